"""Signed links for one-click unsubscribe and the preference page.

The token names the fan and nothing else readable; it is signed so nobody can unsubscribe
someone else by guessing ids.
"""

from itsdangerous import BadSignature, URLSafeSerializer

_SALT = "relay.preferences"


def preferences_token(secret_key: str, fan_id: str) -> str:
    return str(URLSafeSerializer(secret_key, salt=_SALT).dumps(fan_id))


def fan_id_from_token(secret_key: str, token: str) -> str | None:
    try:
        fan_id = URLSafeSerializer(secret_key, salt=_SALT).loads(token)
    except BadSignature:
        return None
    return fan_id if isinstance(fan_id, str) else None


def unsubscribe_url(public_url: str, token: str) -> str:
    return f"{public_url}/u/{token}"
