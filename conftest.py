"""Docs that run: every Python block of README.md and docs/*.md is a test in `make test`, top to bottom per page.

A page's blocks share one namespace, in the order a reader meets them: a page defines what it uses (its own
App, stack and network) and each block builds on the ones above it. A block whose lines start with `>>>` is
a doctest: the output the page shows is the output the code gives. Each page ends by synthesizing its App, and
the teardown below synthesizes any App a page left unsynthesized, so a page whose app cannot synthesize
fails. One process runs many pages (pytest-xdist keeps a page on one worker): jsii starts once a worker.

Why sybil (10.1.0; compared in 2026-12 with pytest-markdown-docs 0.9.2, pytest-codeblocks 0.18.0 and
mktestdocs 0.2.5, by reading their sources and running them on a page of this repository):
- State across blocks. sybil keeps one namespace per page and reports each block as its own test, at its
  line in the page. pytest-markdown-docs shares state only through a `continuation` option, which prepends
  every earlier block to the block and runs it again: a page with six blocks would build its app six times
  (21 block runs, each starting CDK constructs through jsii). pytest-codeblocks needs an
  `<!--pytest-codeblocks:cont-->` comment before every block that continues, and merges them into one test.
  mktestdocs (`check_md_file(memory=True)`) concatenates the page into one exec, with no per-block test and
  no pytest collection of its own.
- Shown output is checked: sybil runs `>>>` lines in a python fence as doctest. pytest-codeblocks compares
  output only from a separate "expected-output" block; the other two do not compare output.
- Per-page setup and teardown, skip directives, pytest and unittest integration; maintained (releases through
  2026-06), packaged by Debian, Ubuntu and openSUSE, no dependency beyond pytest.
"""

from __future__ import annotations

from doctest import ELLIPSIS
from typing import Any

from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser


def _synthesize_every_app(namespace: dict[str, Any]) -> None:
    """A page whose App was never synthesized is synthesized here: a broken app fails its page either way."""
    from aws_cdk import App

    for value in list(namespace.values()):
        if isinstance(value, App):
            value.synth()


# No SkipParser: every Python block of a page runs (a `<!-- skip: next -->` comment is ignored, not obeyed).
pytest_collect_file = Sybil(
    parsers=[PythonCodeBlockParser(doctest_optionflags=ELLIPSIS)],
    patterns=["README.md", "docs/*.md"],
    teardown=_synthesize_every_app,
    name="docs",
).pytest()
