"""Run the patched moto server on loopback: `python -m scripts.emulator --port N [--journal FILE]`.

Prints `ready http://localhost:N` once it accepts connections, and stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from moto.server import ThreadedMotoServer

from scripts.emulator import handlers, install


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.emulator", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--journal", type=Path, help="write what the emulator simulated here (JSON)")
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # moto's S3 recognizes its own host by it, as moto_server sets
    install()
    if args.journal is not None:
        handlers.JOURNAL.append(args.journal)
        args.journal.write_text("[]")
    logging.getLogger("werkzeug").setLevel(logging.INFO if os.environ.get("HPC_EMULATOR_VERBOSE") else logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)  # localhost: IPv4
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    print(f"ready http://localhost:{args.port}", flush=True)
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
