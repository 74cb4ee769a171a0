"""The in-process emulator the deploy tests share: a moto server on loopback with scripts/emulator installed.

Module-scoped: each test module gets a fresh server, so one module's stacks never meet another's.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from scripts.emulator import install
from scripts.emulator.readback import clients

ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Callable[[str], Any]]:
    """boto3 clients (by service name) for a moto server on a free loopback port, stopped after the module."""
    from moto.server import ThreadedMotoServer

    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGION)
    install()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield clients(f"http://localhost:{port}", REGION)
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
