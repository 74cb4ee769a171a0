"""The local deploy's emulator: the pinned moto server plus the CloudFormation handlers it lacks.

`install()` patches moto in this process; `python -m scripts.emulator --port N` runs the patched server on
loopback. The extension holds no validation rules (those live in the constructs): it only lets moto create,
describe and delete what our templates contain, the way CloudFormation would, and says what it simulated.
"""

from scripts.emulator.install import SIMULATED, install

__all__ = ["SIMULATED", "install"]
