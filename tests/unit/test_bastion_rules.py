"""HaBastion's pure rules (bastion_plan): allow-list, block-list, AZs, instance type, and the network ACL's layout."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import strategies as st

from hpc_constructs import ConfigError
from hpc_constructs.bastion_plan import AclRule, BastionPlan, plan_bastion
from hpc_constructs.catalog import instance_types
from hpc_constructs.catalog.limits import BASTION, NETWORK_ACL
from tests.support import hypothesis_outcomes

PATH = "Stack/Bastion"
VPC = "10.0.0.0/16"


def _plan(**props: Any) -> BastionPlan:
    props.setdefault("allowed_cidrs", ["203.0.113.0/24"])
    props.setdefault("usable_zones", 3)
    props.setdefault("vpc_cidr", VPC)
    return plan_bastion(PATH, **props)


def _error(**props: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        _plan(**props)
    assert caught.value.path == PATH
    return caught.value


def _blocked(n: int, version: int = 4) -> list[str]:
    if version == 4:
        return [f"198.51.100.{i}/32" for i in range(n)]
    return [f"2001:db8:ffff::{i:x}/128" for i in range(n)]


# -- allow-list --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["203.0.113.0/33", "203.0.113/24x", "not-a-cidr", "2001:db8::/129", "300.1.1.0/24"])
def test_a_bad_cidr_is_refused(bad: str) -> None:
    error = _error(allowed_cidrs=[bad])
    assert error.prop == "allowed_cidrs" and error.value == bad and "CIDR" in error.allowed


def test_a_bare_address_needs_a_prefix_length() -> None:
    error = _error(allowed_cidrs=["203.0.113.7"])
    assert "/32" in error.allowed


def test_host_bits_are_refused_with_the_network_they_name() -> None:
    error = _error(allowed_cidrs=["203.0.113.5/24"])
    assert "203.0.113.0/24" in error.allowed and "/32" in error.hint


def test_an_empty_allow_list_is_refused() -> None:
    error = _error(allowed_cidrs=[])
    assert error.prop == "allowed_cidrs" and "at least one" in error.allowed


def test_a_string_is_not_a_list_of_cidrs() -> None:
    assert _error(allowed_cidrs="203.0.113.0/24").prop == "allowed_cidrs"


def test_a_repeated_cidr_is_refused() -> None:
    assert _error(allowed_cidrs=["203.0.113.0/24", "203.0.113.0/24"]).allowed == "each CIDR once"


@pytest.mark.parametrize("open_cidr", ["0.0.0.0/0", "::/0"])
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_the_whole_internet_needs_a_reason(open_cidr: str, reason: str | None) -> None:
    error = _error(allowed_cidrs=[open_cidr], allow_open_ssh=reason)
    assert error.value == [open_cidr] and "allow_open_ssh" in error.allowed


def test_the_whole_internet_with_a_reason_is_allowed() -> None:
    plan = _plan(allowed_cidrs=["0.0.0.0/0"], allow_open_ssh="public training cluster, keys only")
    assert plan.open_to_world


def test_specific_cidrs_are_not_open_to_the_world() -> None:
    assert not _plan(allowed_cidrs=["203.0.113.0/24", "2001:db8::/48"]).open_to_world


# -- block-list --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["198.51.100.300/32", "198.51.100.1", "198.51.100.1/24"])
def test_a_bad_blocked_cidr_is_refused(bad: str) -> None:
    assert _error(blocked_cidrs=[bad]).prop == "blocked_cidrs"


@pytest.mark.parametrize("everyone", ["0.0.0.0/0", "::/0"])
def test_blocking_everyone_is_refused(everyone: str) -> None:
    assert "not the whole internet" in _error(blocked_cidrs=[everyone]).allowed


def test_a_cidr_both_allowed_and_blocked_is_refused() -> None:
    assert "not also in allowed_cidrs" in _error(blocked_cidrs=["203.0.113.0/24"]).allowed


def test_a_block_covering_an_allowed_cidr_is_refused() -> None:
    error = _error(blocked_cidrs=["203.0.0.0/16"])
    assert "203.0.113.0/24" in error.hint


def test_blocking_one_address_inside_an_allowed_range_is_the_point() -> None:
    plan = _plan(blocked_cidrs=["203.0.113.66/32"])
    assert [str(b) for b in plan.blocked] == ["203.0.113.66/32"]


def test_blocking_the_vpcs_own_range_is_refused() -> None:
    error = _error(blocked_cidrs=["10.0.128.0/17"])
    assert error.value == ["10.0.128.0/17"] and VPC in error.allowed


def test_a_token_vpc_range_skips_the_overlap_check_only() -> None:
    plan = _plan(blocked_cidrs=["10.0.128.0/17"], vpc_cidr="${Token[TOKEN.1]}")
    vpc_rule = next(r for r in plan.acl_rules if r.key == "IngressAllowIpv4Vpc")
    assert vpc_rule.cidr == "${Token[TOKEN.1]}"


# -- availability zones, instance type, key, retention -------------------------------------------------------

def test_one_availability_zone_is_refused() -> None:
    error = _error(availability_zones=1)
    assert error.prop == "availability_zones" and error.allowed == "at least 2"


def test_more_zones_than_the_vpc_has_is_refused() -> None:
    error = _error(availability_zones=3, usable_zones=2)
    assert error.value == 3 and "at most 2" in error.allowed


def test_every_zone_the_vpc_has_is_allowed() -> None:
    assert _plan(availability_zones=3, usable_zones=3).availability_zones == 3


def test_an_unknown_instance_type_is_refused_with_close_matches() -> None:
    error = _error(instance_type_name="t3.mciro")
    assert error.prop == "instance_type" and "t3.micro" in str(error)


def test_every_catalog_type_is_accepted_or_refused_with_a_reason() -> None:
    """Across the catalog: x86_64/arm64 On-Demand types Amazon Linux 2023 runs on are accepted; no other."""
    for itype in instance_types():
        expected = ("on-demand" in itype.usage_classes and itype.architecture in ("x86_64", "arm64")
                    and itype.family != "a1")
        try:
            plan = _plan(instance_type_name=itype.name)
        except ConfigError as error:
            assert not expected, (itype.name, str(error))
            assert error.prop == "instance_type" and error.hint
        else:
            assert expected, itype.name
            assert plan.instance_type.name == itype.name


def test_mac_types_are_refused() -> None:
    assert "Dedicated Hosts" in _error(instance_type_name="mac1.metal").hint


def test_a1_is_refused_on_amazon_linux_2023() -> None:
    assert "Amazon Linux 2023" in _error(instance_type_name="a1.large").hint


@pytest.mark.parametrize("bad", ["", " lead", "x" * (BASTION.max_key_name_chars + 1), "clé"])
def test_a_bad_key_name_is_refused(bad: str) -> None:
    error = _error(key_name=bad)
    assert error.prop == "key_name" and error.value == bad and "255 ASCII" in error.allowed


def test_a_key_name_of_the_longest_length_is_accepted() -> None:
    _plan(key_name="x" * BASTION.max_key_name_chars)


@pytest.mark.parametrize("days", [0, 2, 366, -1])
def test_a_retention_cloudwatch_does_not_offer_is_refused(days: int) -> None:
    assert _error(ssh_log_retention_days=days).prop == "ssh_log_retention_days"


@pytest.mark.parametrize("quota", [19, 41])
def test_the_acl_quota_is_between_the_default_and_the_maximum(quota: int) -> None:
    assert _error(acl_rule_quota=quota).prop == "acl_rule_quota"


# -- network ACL quota ---------------------------------------------------------------------------------------

def test_fifteen_blocked_ipv4_cidrs_fit_beside_one_allowed_and_sixteen_do_not() -> None:
    plan = _plan(blocked_cidrs=_blocked(15))
    assert plan.rule_count(egress=False, ipv6=False) == NETWORK_ACL.rules_per_direction
    error = _error(blocked_cidrs=_blocked(16))
    assert error.prop == "blocked_cidrs" and error.value == "16 IPv4 CIDRs"
    assert error.allowed.startswith("at most 15 IPv4 CIDRs")


def test_allowed_cidrs_count_against_the_quota() -> None:
    allowed = [f"203.0.113.{i * 16}/28" for i in range(3)]
    _plan(allowed_cidrs=allowed, blocked_cidrs=_blocked(13))
    assert "at most 13" in _error(allowed_cidrs=allowed, blocked_cidrs=_blocked(14)).allowed


def test_too_many_allowed_cidrs_alone_are_refused() -> None:
    allowed = [f"203.0.113.{i}/32" for i in range(17)]
    error = _error(allowed_cidrs=allowed)
    assert error.prop == "allowed_cidrs" and "at most 16" in error.allowed


def test_a_raised_quota_takes_more() -> None:
    plan = _plan(blocked_cidrs=_blocked(35), acl_rule_quota=40)
    assert plan.rule_count(egress=False, ipv6=False) == 40
    assert plan.more_blocked_cidrs_that_fit(4) == 0
    assert _plan(acl_rule_quota=20).more_blocked_cidrs_that_fit(4) == 15


def test_the_acl_quota_keeps_the_load_balancers_security_group_within_its_rules() -> None:
    """Every allowed CIDR is one inbound rule on the load balancer's group too; the ACL's bound is the tighter."""
    most = NETWORK_ACL.max_rules_per_direction - 4  # the fixed IPv4 allow rules
    _plan(allowed_cidrs=[f"203.0.{i}.0/24" for i in range(most)], acl_rule_quota=40)
    assert _error(allowed_cidrs=[f"203.0.{i}.0/24" for i in range(most + 1)], acl_rule_quota=40).prop == "allowed_cidrs"
    assert most <= BASTION.security_group_rules_per_direction


def test_ipv4_and_ipv6_rules_are_counted_apart() -> None:
    plan = _plan(allowed_cidrs=["203.0.113.0/24", "2001:db8:1::/48"], blocked_cidrs=_blocked(15) + _blocked(16, 6))
    assert plan.rule_count(egress=False, ipv6=False) == 20
    assert plan.rule_count(egress=False, ipv6=True) == 20  # 16 denies, 3 fixed allows, 1 SSH
    error = _error(allowed_cidrs=["203.0.113.0/24", "2001:db8:1::/48"], blocked_cidrs=_blocked(17, 6))
    assert error.value == "17 IPv6 CIDRs" and "at most 16" in error.allowed


# -- network ACL layout --------------------------------------------------------------------------------------

def _numbers(rules: tuple[AclRule, ...], *, egress: bool, action: str) -> list[int]:
    return [r.number for r in rules if r.egress == egress and r.action == action]


def _check_layout(plan: BastionPlan) -> None:
    rules = plan.acl_rules
    for egress in (False, True):
        denies, allows = _numbers(rules, egress=egress, action="deny"), _numbers(rules, egress=egress, action="allow")
        assert allows, "every direction has allow rules"
        if denies:
            assert max(denies) < min(allows)
        numbers = denies + allows
        assert len(numbers) == len(set(numbers)), "rule numbers are unique per direction"
        assert all(NETWORK_ACL.min_rule_number <= n <= NETWORK_ACL.max_rule_number for n in numbers)
    for version in (4, 6):
        for egress in (False, True):
            assert plan.rule_count(egress=egress, ipv6=version == 6) <= plan.acl_rule_quota
    assert len({r.key for r in rules}) == len(rules)
    denied = {(r.cidr, r.egress) for r in rules if r.action == "deny"}
    assert denied == {(str(b), e) for b in plan.blocked for e in (False, True)}, "each blocked CIDR both ways"


def test_every_deny_rule_comes_before_every_allow_rule_in_both_directions() -> None:
    plan = _plan(allowed_cidrs=["203.0.113.0/24", "2001:db8:1::/48"],
                 blocked_cidrs=_blocked(15) + _blocked(16, 6))
    _check_layout(plan)


def test_ephemeral_return_ports_stay_open_and_outbound_is_open() -> None:
    rules = _plan(blocked_cidrs=["198.51.100.0/24"]).acl_rules
    inbound = [(r.protocol, r.ports, r.cidr) for r in rules if not r.egress and r.action == "allow"]
    assert (6, (1024, 65535), "0.0.0.0/0") in inbound and (17, (1024, 65535), "0.0.0.0/0") in inbound
    assert (-1, None, VPC) in inbound  # the private subnets' traffic to their NAT gateway
    assert (6, (22, 22), "203.0.113.0/24") in inbound
    outbound = [(r.protocol, r.cidr) for r in rules if r.egress and r.action == "allow"]
    assert outbound == [(-1, "0.0.0.0/0")]


def test_ssh_is_admitted_only_from_the_allowed_cidrs() -> None:
    rules = _plan(allowed_cidrs=["203.0.113.0/24", "192.0.2.0/24"]).acl_rules
    port_22 = {r.cidr for r in rules
               if not r.egress and r.action == "allow" and r.ports and r.ports[0] <= 22 <= r.ports[1]}
    assert port_22 == {"203.0.113.0/24", "192.0.2.0/24"}


def test_ipv6_rules_appear_only_for_a_dual_stack_bastion() -> None:
    assert not any(r.ipv6 for r in _plan().acl_rules)
    plan = _plan(allowed_cidrs=["2001:db8:1::/48"])
    assert plan.dual_stack
    assert {r.key for r in plan.acl_rules if r.ipv6} >= {"IngressAllowIpv6Ssh0", "IngressAllowIpv6Icmp",
                                                          "EgressAllowIpv6All"}


def test_editing_the_block_list_keeps_rule_numbers_per_entry() -> None:
    """An entry's number follows its key (role and position): removing the first blocked CIDR changes CIDRs in
    place instead of renumbering, which CloudFormation would do by replacement, and fail on a taken number."""
    before = {r.key: r.number for r in _plan(blocked_cidrs=_blocked(5)).acl_rules}
    after = {r.key: r.number for r in _plan(blocked_cidrs=_blocked(5)[1:]).acl_rules}
    assert all(before[key] == number for key, number in after.items())
    assert set(before) - set(after) == {"IngressDenyIpv4Blocked4", "EgressDenyIpv4Blocked4"}


_V4 = st.builds(lambda a, p: str(ipaddress.ip_network(f"{a}/{p}", strict=False)),
                st.ip_addresses(v=4), st.integers(min_value=12, max_value=32))
_V6 = st.builds(lambda a, p: str(ipaddress.ip_network(f"{a}/{p}", strict=False)),
                st.ip_addresses(v=6), st.integers(min_value=16, max_value=128))
_JUNK = st.one_of(st.text(max_size=20), st.sampled_from(["203.0.113.5/24", "0.0.0.0/0", "::/0", "10.0.1.0/24"]))


def test_any_lists_are_accepted_with_a_sound_acl_or_refused_with_config_error() -> None:
    key_numbers: dict[str, int] = {}

    def check(allowed: list[str], blocked: list[str], junk: str | None, into_allowed: bool, reason: str | None,
              quota: int) -> bool:
        if junk is not None:
            (allowed if into_allowed else blocked).append(junk)
        try:
            plan = _plan(allowed_cidrs=allowed, blocked_cidrs=blocked, allow_open_ssh=reason, acl_rule_quota=quota)
        except ConfigError as error:
            assert error.path == PATH and error.allowed
            return False
        _check_layout(plan)
        for rule in plan.acl_rules:  # one key, one number, across every plan
            assert key_numbers.setdefault(rule.key, rule.number) == rule.number
        if plan.open_to_world:
            assert reason and reason.strip()
        return True

    accepted, examples = hypothesis_outcomes(
        check, max_examples=300,
        allowed=st.lists(st.one_of(_V4, _V4, _V6), min_size=0, max_size=6),
        blocked=st.lists(st.one_of(_V4, _V4, _V6), max_size=24),
        junk=st.one_of(st.none(), st.none(), _JUNK), into_allowed=st.booleans(),
        reason=st.sampled_from([None, "", "lab network"]), quota=st.sampled_from([20, 30, 40]))
    assert 0.1 * examples < accepted < 0.9 * examples
