"""The embedded default (`relay run`: SQLite, worker, sandbox webhooks) holds concurrent clients."""

from pathlib import Path

from tests.embedded import embedded_environment, relay_run
from tests.load import mixed_load

CLIENTS = 64
FANS_PER_CLIENT = 12  # 768 fans, 3,072 requests


async def test_sixty_four_clients_upserting_and_enrolling_while_emails_go_out_get_no_5xx(
    tmp_path: Path,
) -> None:
    environment = embedded_environment(tmp_path / "data")
    async with relay_run(environment):
        api_key = (tmp_path / "data" / "api-key").read_text().strip()
        api_url = f"http://127.0.0.1:{environment['RELAY_API_PORT']}"
        result = await mixed_load(api_url, api_key, CLIENTS, FANS_PER_CLIENT)

    assert result.server_errors[:3] == []
    assert result.unanswered[:3] == []
    assert result.requests == 4 * CLIENTS * FANS_PER_CLIENT
