"""paths.declare keeps each anchor's declarations in Python (no read-back through jsii): what a template holds."""

from __future__ import annotations

from typing import Any

from aws_cdk import assertions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3

from hpc_constructs import paths
from tests.support import new_stack


def _declarations(template: assertions.Template, resource_type: str) -> list[dict[str, Any]]:
    (resource,) = template.find_resources(resource_type).values()
    declared: list[dict[str, Any]] = resource["Metadata"][paths.METADATA_KEY]
    return declared


def test_declarations_through_different_proxies_of_one_resource_all_land_once_each() -> None:
    stack = new_stack()
    vpc = ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=0, subnet_configuration=[
        ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])
    group = ec2.SecurityGroup(stack, "Group", vpc=vpc)
    bucket = s3.Bucket(stack, "Bucket")
    first = {"path": "a", "kind": "route", "from": paths.groups("g", group.security_group_id), "gateway": "vgw-1"}
    second = {"path": "b", "kind": "route", "from": paths.groups("g", group.security_group_id), "gateway": "vgw-2"}
    # The group itself, then its default child as node returns it (another Python proxy of the same resource),
    # then the first declaration again: two entries, in order.
    paths.declare(group, first)
    paths.declare(group.node.default_child, second)  # type: ignore[arg-type]
    paths.declare(stack.node.find_child("Group"), first)
    paths.declare(bucket, {"path": "c", "kind": "route", "from": paths.cidr("10.0.0.0/8"), "gateway": "vgw-3"})

    template = assertions.Template.from_stack(stack)
    declared = _declarations(template, "AWS::EC2::SecurityGroup")
    assert [entry["path"] for entry in declared] == ["a", "b"]
    # the group's ID token is written as a reference hpc-verify evaluates, not as a Ref
    logical_id = stack.get_logical_id(group.node.default_child)  # type: ignore[arg-type]
    assert declared[0]["from"]["groups"] == [{"hpc:ref": ["Test", logical_id], "attr": "GroupId"}]
    assert [entry["path"] for entry in _declarations(template, "AWS::S3::Bucket")] == ["c"]


def test_a_string_with_text_and_a_token_is_written_as_a_join() -> None:
    stack = new_stack()
    bucket = s3.Bucket(stack, "Bucket")
    written = stack.resolve(paths.portable({"arn": f"{bucket.bucket_arn}/*", "name": "plain", "port": 22}))
    logical_id = stack.get_logical_id(bucket.node.default_child)  # type: ignore[arg-type]
    assert written == {"arn": {"hpc:join": [{"hpc:ref": ["Test", logical_id], "attr": "Arn"}, "/*"]},
                       "name": "plain", "port": 22}
