"""docker-compose.yml cannot run here (no Docker engine); check it as data against the code."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from apps.cli import COMMANDS
from relay import search_attributes
from relay.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_every_dependency_is_a_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"


def test_relay_services_run_relay_commands_with_known_settings(compose: dict[str, Any]) -> None:
    known = {f"RELAY_{name.upper()}" for name in Settings.model_fields}
    relay_services = {n: s for n, s in compose["services"].items() if s.get("build")}
    assert set(relay_services) == {"migrate", "sandbox", "worker", "api"}
    for name, service in relay_services.items():
        assert service["command"][0] in COMMANDS, name
        assert set(service["environment"]) <= known, name


def test_the_compose_namespace_gets_every_search_attribute_the_workflows_use() -> None:
    script = (ROOT / "deploy" / "temporal-namespace.sh").read_text()
    registered = dict(re.findall(r"(\w+)=(Keyword|Int|Text|Bool|Double|Datetime)", script))
    expected = {k.name: k.indexed_value_type.name.title() for k in search_attributes.ALL}
    assert registered == expected


def test_mounted_files_exist(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
