"""Turn the database URL a person writes into the async driver URL SQLAlchemy needs."""

from sqlalchemy.engine import make_url

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}


def async_database_url(url: str) -> str:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(f"RELAY_DATABASE_URL must be sqlite or postgresql, not {backend!r}")
    return parsed.set(drivername=_ASYNC_DRIVERS[backend]).render_as_string(hide_password=False)


def display_url(url: str) -> str:
    """The URL with its password masked, for logs and terminals."""
    return make_url(url).render_as_string(hide_password=True)
