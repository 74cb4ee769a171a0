"""The one error type the library raises for bad input, at synth time."""

from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
    """A property value that AWS would reject at deploy time, caught at synth time.

    The message names where (the construct path), what (the property and its bad value) and what is
    allowed, so that the user can fix the input without reading the AWS documentation first.
    """

    def __init__(self, path: str, prop: str, value: Any, allowed: str, *, hint: str = "",
                 shown: str | None = None) -> None:
        """shown: how the message writes the value (e.g. "an HpcNetwork (App/Net)"); None writes its repr."""
        self.path = path
        self.prop = prop
        self.value = value
        self.allowed = allowed
        self.hint = hint
        message = f"{path}: {prop}={repr(value) if shown is None else shown} is not allowed. Allowed: {allowed}."
        if hint:
            message += f" {hint}"
        super().__init__(message)
