#!/usr/bin/env python3
"""Show, or with --write rewrite, the lock on the reference stacks' stateful logical IDs.

    python scripts/stateful_lock.py          # print what the lock would be, and what breaks it
    python scripts/stateful_lock.py --write  # rewrite tests/lock/stateful-logical-ids.json

Rewriting the lock is deliberate: the commit that does it says why each change is safe.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="rewrite the lock file")
    args = parser.parse_args()
    from app import load_config
    from stacks import build_reference_app
    from tests.lock.stateful import LOCK_FILE, lock_problems, read_lock, render, stateful_ids
    from tests.support import new_app

    with tempfile.TemporaryDirectory() as outdir:
        app = new_app(outdir=outdir)
        build_reference_app(app, load_config(ROOT / "config" / "reference.yaml"))
        current = stateful_ids({s.stack_name: s.template for s in app.synth().stacks})
    if args.write:
        LOCK_FILE.write_text(render(current))
        print(f"wrote {LOCK_FILE.relative_to(ROOT)}")
        return 0
    print(render(current), end="")
    problems = lock_problems(read_lock(), current) if LOCK_FILE.exists() else ["no lock file yet"]
    for problem in problems:
        print("lock: " + problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
