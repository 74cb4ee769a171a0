from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hpc_constructs import ConfigError


def test_config_error_is_a_value_error_naming_path_property_value_and_allowed() -> None:
    err = ConfigError("Env/Storage", "iops", 300_000, "100 to 256,000", hint="Use several volumes.")
    assert isinstance(err, ValueError)
    text = str(err)
    assert text.startswith("Env/Storage: iops=300000 is not allowed. Allowed: 100 to 256,000.")
    assert text.endswith("Use several volumes.")
    assert (err.path, err.prop, err.value, err.allowed) == ("Env/Storage", "iops", 300_000, "100 to 256,000")


@given(path=st.text(min_size=1), prop=st.text(min_size=1), value=st.integers() | st.text(), allowed=st.text())
def test_config_error_message_always_names_every_part(path: str, prop: str, value: object, allowed: str) -> None:
    text = str(ConfigError(path, prop, value, allowed))
    assert path in text and prop in text and repr(value) in text and allowed in text
