"""Reference stacks composed from hpc_constructs; `build_reference_app` is what app.py and tests use.

stacks never read files: app.py reads the YAML and `parse_config` checks it against the schema (stacks.config).
"""

from stacks.config import ConfigFileError, ReferenceConfig, parse_config
from stacks.reference import build_reference_app

__all__ = ["ConfigFileError", "ReferenceConfig", "build_reference_app", "parse_config"]
