"""Every EFA-capable type, shard 3 of tests/unit/every_efa_type.py (a file per shard: pytest-xdist --dist loadfile)."""

from tests.unit.every_efa_type import shard_tests

test_efa_fleet_is_right_for, test_shard_is_clean_under_cfn_lint = shard_tests(3)
