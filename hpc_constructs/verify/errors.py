"""hpc-verify's one error: the input is not a cloud assembly it can read (exit status 2, one line)."""

from __future__ import annotations


class AssemblyError(ValueError):
    """Not a cloud assembly, or one whose templates refer to what they do not hold. The message is one line."""
