"""Database errors name the statement, never the values: they reach logs and workflow history."""

import pytest
from sqlalchemy.exc import IntegrityError

from relay.db.engine import create_engine, session_factory
from relay.db.models import Suppression
from tests.conftest import DatabaseUnderTest, unique_fan


async def test_a_database_error_message_does_not_contain_the_email_it_was_about(
    database: DatabaseUnderTest,
) -> None:
    engine = create_engine(database.url)
    sessions = session_factory(engine)
    email = unique_fan()["email"]
    async with sessions() as session:
        session.add(Suppression(channel="email", address=email, reason="hard bounce"))
        await session.commit()
    with pytest.raises(IntegrityError) as raised:
        async with sessions() as session:
            session.add(Suppression(channel="email", address=email, reason="hard bounce"))
            await session.commit()
    await engine.dispose()

    assert "suppression" in str(raised.value).lower()  # still says what failed
    assert email not in str(raised.value)
