"""hpc-verify's pure rules: network ACL order and ranges, security-group port coverage, IAM matching and conditions."""

from __future__ import annotations

import ipaddress

from hpc_constructs.verify.iam import _condition, statements_of, wildcard_match
from hpc_constructs.verify.network import SgRule, covered
from hpc_constructs.verify.traffic import AclEntry, Box, acl_verdict, query, returning

VPC = ipaddress.ip_network("10.0.0.0/16")
SUBNET = ipaddress.ip_network("10.0.64.0/18")
ANY = ipaddress.ip_network("0.0.0.0/0")


def _entry(number: int, *, allow: bool = True, egress: bool = False, protocol: str = "all", low: int = 0,
           high: int = 65535, cidr: str = "0.0.0.0/0") -> AclEntry:
    return AclEntry(number, egress, allow, protocol, low, high, ipaddress.ip_network(cidr), f"rule{number}")


def test_the_first_matching_acl_entry_decides() -> None:
    ssh = [Box("tcp", 22, 22)]
    deny_then_allow = [_entry(200, cidr="10.0.0.0/16"), _entry(100, allow=False, protocol="tcp", low=22, high=22,
                                                                 cidr="10.0.0.0/16")]
    assert "rule 100 (deny TCP 22 from 10.0.0.0/16) comes first" in str(
        acl_verdict(deny_then_allow, egress=False, boxes=ssh, peer=SUBNET, acl="acl"))
    assert acl_verdict([_entry(100, cidr="10.0.0.0/16")], egress=False, boxes=ssh, peer=SUBNET, acl="acl") is None


def test_an_acl_must_cover_every_address_and_port_or_the_final_rule_denies() -> None:
    half = [_entry(100, protocol="tcp", low=1024, high=30000)]
    verdict = acl_verdict(half, egress=False, boxes=returning([Box("tcp", 443, 443)], (1024, 65535)), peer=ANY,
                          acl="acl")
    assert verdict is not None and "no rule allows TCP 30001-65535 from 0.0.0.0/0" in verdict
    part_of_the_subnet = [_entry(100, cidr="10.0.64.0/19")]
    assert "no rule allows" in str(acl_verdict(part_of_the_subnet, egress=False, boxes=query("tcp", [(22, 22)]),
                                               peer=SUBNET, acl="acl"))
    two_halves = [_entry(100, cidr="10.0.64.0/19"), _entry(110, cidr="10.0.96.0/19")]
    assert acl_verdict(two_halves, egress=False, boxes=query("all"), peer=SUBNET, acl="acl") is None


def test_a_block_list_carves_out_of_an_outside_range_but_not_out_of_a_subnet() -> None:
    entries = [_entry(100, allow=False, cidr="203.0.113.66/32"), _entry(1000)]
    client = ipaddress.ip_network("203.0.113.0/24")
    carved: list[str] = []
    assert acl_verdict(entries, egress=False, boxes=[Box("tcp", 22, 22)], peer=client, acl="acl", carved=carved) is None
    assert carved == ["203.0.113.66/32 (rule 100 (deny all traffic from 203.0.113.66/32))"]
    inside = [_entry(100, allow=False, cidr="10.0.64.10/32"), _entry(1000)]
    assert acl_verdict(inside, egress=False, boxes=[Box("tcp", 22, 22)], peer=SUBNET, acl="acl") is not None
    everything = [_entry(100, allow=False, cidr="203.0.113.0/24"), _entry(1000)]
    assert acl_verdict(everything, egress=False, boxes=[Box("tcp", 22, 22)], peer=client, acl="acl",
                       carved=[]) is not None


def test_security_group_rules_must_cover_every_port_asked_for() -> None:
    def rule(protocol: str, low: int, high: int) -> SgRule:
        return SgRule("sg", False, protocol, low, high, "group", "sg", "r")

    lustre = query("tcp", [(988, 988), (1018, 1023)])
    assert covered([rule("tcp", 988, 988)], lustre) == [Box("tcp", 1018, 1023)]
    assert covered([rule("tcp", 988, 988), rule("tcp", 1018, 1023)], lustre) == []
    assert covered([rule("all", 0, 65535)], query("all")) == []
    assert covered([rule("tcp", 0, 65535), rule("udp", 0, 65535)], query("all")) == [Box("icmp"), Box("other")]


def test_iam_wildcards_and_the_condition_operators_it_evaluates() -> None:
    assert wildcard_match("s3:Get*", "s3:getobject", ignore_case=True)
    assert not wildcard_match("arn:aws:s3:::bucket/results/*", "arn:aws:s3:::bucket/other")
    assert wildcard_match("arn:aws:s3:::bucket/?", "arn:aws:s3:::bucket/a")
    context = {"aws:SourceArn": "arn:aws:events:r:1:rule/a", "aws:SecureTransport": "true"}
    assert _condition({"ArnLike": {"aws:SourceArn": "arn:aws:events:*:1:rule/*"}}, context) == (True, [])
    assert _condition({"ArnEquals": {"aws:SourceArn": "arn:aws:events:r:2:rule/a"}}, context) == (False, [])
    assert _condition({"Bool": {"aws:SecureTransport": "false"}}, context) == (False, [])
    assert _condition({"StringEquals": {"aws:SourceAccount": "1"}}, context) == (False, [])  # the key is absent
    assert _condition({"StringEqualsIfExists": {"aws:SourceAccount": "1"}}, context) == (True, [])
    assert _condition({"StringNotEquals": {"aws:SourceAccount": "1"}}, context) == (True, [])
    assert _condition({"Null": {"aws:SourceAccount": "true"}}, context) == (True, [])
    assert _condition({"NumericLessThan": {"s3:max-keys": "10"}}, context) == (None, ["NumericLessThan"])
    # set operators over a multivalued key (IAM User Guide, "Set operators for multivalued context keys")
    tags = {"aws:TagKeys": ["a", "b"]}
    assert _condition({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b", "c"]}}, tags) == (True, [])
    assert _condition({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}, tags) == (False, [])
    assert _condition({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}, context) == (True, [])  # absent: holds
    assert _condition({"ForAnyValue:StringEquals": {"aws:TagKeys": "a"}}, tags) == (True, [])
    assert _condition({"ForAnyValue:StringEquals": {"aws:TagKeys": "c"}}, tags) == (False, [])
    assert _condition({"ForAnyValue:StringEquals": {"aws:TagKeys": "a"}}, context) == (False, [])  # absent: never
    assert _condition({"ForAnyValue:StringNotEquals": {"aws:TagKeys": "a"}}, tags) == (True, [])  # "b" is not "a"
    assert _condition({"ForAllValues:NumericLessThan": {"k": "1"}}, tags) == (None, ["ForAllValues:NumericLessThan"])


def test_policy_documents_as_cloudformation_and_cloudwatch_logs_write_them() -> None:
    document = {"Statement": {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*",
                              "Principal": {"Service": ["datasync.amazonaws.com"]}}}
    (statement,) = statements_of(document, "policy")
    assert statement.actions == ["logs:PutLogEvents"] and statement.principals == {
        "Service": ["datasync.amazonaws.com"]}
    (same,) = statements_of('{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*"}]}', "logs policy")
    assert same.effect == "Deny" and same.principals == {"AWS": ["*"]}
