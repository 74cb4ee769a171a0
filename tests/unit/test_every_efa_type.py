"""The EFA shards (tests/unit/every_efa_type.py) cover every EFA-capable type of the catalog, each once."""

from __future__ import annotations

from pathlib import Path

from hpc_constructs import catalog
from tests.unit.every_efa_type import EFA_TYPES, SHARDS


def test_one_fleet_per_efa_type() -> None:
    assert len(EFA_TYPES) == 303


def test_the_shards_cover_every_efa_type_once() -> None:
    assert sorted(t.name for shard in SHARDS for t in shard) == sorted(t.name for t in catalog.instance_types()
                                                                        if t.efa_supported)


def test_every_shard_has_its_test_file() -> None:
    """A catalog with more EFA types needs another shard file (copy one and change its number)."""
    files = sorted(Path(__file__).parent.glob("test_efa_shard_*.py"))
    assert [f.name for f in files] == [f"test_efa_shard_{n}.py" for n in range(len(SHARDS))]
    for n, file in enumerate(files):
        assert f"shard_tests({n})" in file.read_text()
