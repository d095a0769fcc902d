"""Serve the sandbox with uvicorn on a real loopback socket, in a thread."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette

from sandbox.app import create_app
from sandbox.settings import ProjectCredentials, SandboxSettings

_STARTUP_TIMEOUT_SECONDS = 10.0


def check_loopback(host: str) -> None:
    """Reject any address outside 127.0.0.0/8 and ::1: the sandbox is local only."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            raise ValueError(f"host must be a loopback address, got `{host}`") from None
        return
    if not address.is_loopback:
        raise ValueError(f"host must be a loopback address, got `{host}`")


@dataclass(frozen=True)
class RunningSandbox:
    """A sandbox serving on `base_url` until its `start()` block exits."""

    base_url: str
    projects: tuple[ProjectCredentials, ...]
    settings: SandboxSettings
    app: Starlette


@contextmanager
def start(settings: SandboxSettings | None = None) -> Iterator[RunningSandbox]:
    """Serve a sandbox for the duration of the `with` block.

    The socket is bound before the thread starts, so `port=0` picks a free
    port without a race, and the block is entered only once uvicorn accepts
    connections.
    """
    settings = settings or SandboxSettings()
    check_loopback(settings.host)
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    # NOTE: asyncio disables Nagle only on sockets whose `proto` is
    # IPPROTO_TCP; with proto 0 every keep-alive response waited ~40 ms for
    # a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((settings.host, settings.port))
    port = sock.getsockname()[1]

    app = create_app(settings)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="ges-sandbox", daemon=True
    )
    thread.start()
    try:
        _wait_started(server, thread)
        host = f"[{settings.host}]" if family == socket.AF_INET6 else settings.host
        yield RunningSandbox(f"http://{host}:{port}", settings.projects, settings, app)
    finally:
        server.should_exit = True
        thread.join(timeout=_STARTUP_TIMEOUT_SECONDS)
        sock.close()


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    started = threading.Event()
    deadline = _STARTUP_TIMEOUT_SECONDS
    step = 0.01
    waited = 0.0
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the sandbox server stopped during start-up")
        if waited >= deadline:
            raise RuntimeError("the sandbox server did not start within 10 seconds")
        started.wait(step)
        waited += step
