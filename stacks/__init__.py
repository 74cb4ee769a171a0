"""Reference stacks composed from hpc_constructs; `build_reference_app` is what app.py and tests use."""

from stacks.reference import ReferenceConfig, build_reference_app, load_config

__all__ = ["ReferenceConfig", "build_reference_app", "load_config"]
