"""make test's share of `make fuzz` (benchmarks/fuzz.py): a few seeded examples per construct, none failing.

Each public construct gets EXAMPLES recipes from benchmarks/fuzz_strategies.py; every one must be accepted
(synthesized with cdk-nag, no finding, cfn-lint clean) or refused with a ConfigError, and both must happen,
so that the test cannot pass by refusing everything. The harness's own verdicts are tested too: an open
security group, a cfn-lint finding and a stray exception each count as a failure, a ConfigError as a refusal.
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2

import benchmarks.fuzz as fuzz
from hpc_constructs import ConfigError, HpcNetwork
from tests.cfn_lint import findings

EXAMPLES = 6
NETWORK = {"network": {"max_azs": 2, "nat_gateways": 1, "env": False, "dual_stack": False}}


@pytest.fixture(scope="module")
def linter() -> fuzz.Linter:
    return fuzz.Linter()


@pytest.mark.parametrize("name", fuzz.CONSTRUCTS)
def test_random_input_is_accepted_cleanly_or_refused_with_a_config_error(name: str, linter: fuzz.Linter) -> None:
    report = fuzz.fuzz(name, EXAMPLES, linter=linter)
    assert report.examples == EXAMPLES, f"hypothesis ran {report.examples} of {EXAMPLES} examples"
    shown = "\n\n".join(f"{f.reason}\n{f.detail}\nreproduce: python benchmarks/fuzz.py --reproduce {name} - <<'R'\n"
                        f"{f.recipe}\nR" for f in report.failures[:3])
    assert report.failed == 0, f"{report.failed} of {report.examples} examples failed:\n{shown}"
    assert report.accepted >= 1, f"none of {report.examples} random {name}s was accepted"
    assert report.rejected >= 1, f"none of {report.examples} random {name}s was refused"


def _probe(monkeypatch: pytest.MonkeyPatch, linter: fuzz.Linter, build: Any) -> fuzz.Outcome:
    monkeypatch.setitem(fuzz.BUILDERS, "Probe", build)
    return fuzz.run_example("Probe", dict(NETWORK), linter)


def test_a_config_error_is_a_refusal(monkeypatch: pytest.MonkeyPatch, linter: fuzz.Linter) -> None:
    def build(stack: Stack, recipe: dict[str, Any]) -> None:
        raise ConfigError(f"{stack.node.path}/Thing", "size", -1, "1 or more")

    outcome = _probe(monkeypatch, linter, build)
    assert (outcome.kind, outcome.reason, outcome.notes) == ("rejected", "size", ())


def test_another_exception_is_a_failure(monkeypatch: pytest.MonkeyPatch, linter: fuzz.Linter) -> None:
    def build(stack: Stack, recipe: dict[str, Any]) -> None:
        raise KeyError("missing")  # as a library bug would

    outcome = _probe(monkeypatch, linter, build)
    assert (outcome.kind, outcome.reason) == ("failed", "KeyError while building")


def test_a_cdk_nag_finding_is_a_failure(monkeypatch: pytest.MonkeyPatch, linter: fuzz.Linter) -> None:
    def build(stack: Stack, recipe: dict[str, Any]) -> None:
        group = ec2.SecurityGroup(stack, "Open", vpc=fuzz._network(stack, recipe).vpc)
        group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(22))

    outcome = _probe(monkeypatch, linter, build)
    assert outcome.kind == "failed" and "AwsSolutions-EC23" in outcome.reason, outcome


def test_a_cfn_lint_finding_is_a_failure(monkeypatch: pytest.MonkeyPatch, linter: fuzz.Linter) -> None:
    def build(stack: Stack, recipe: dict[str, Any]) -> None:
        HpcNetwork(stack, "Net")
        ec2.CfnLaunchTemplate(stack, "Template", launch_template_data=ec2.CfnLaunchTemplate.LaunchTemplateDataProperty(
            instance_type="p5.huge", metadata_options=ec2.CfnLaunchTemplate.MetadataOptionsProperty(
                http_tokens="required")))

    outcome = _probe(monkeypatch, linter, build)
    assert outcome.kind == "failed" and "E3628" in outcome.reason, outcome


def test_the_fuzz_linter_finds_what_tests_cfn_lint_finds(linter: fuzz.Linter) -> None:
    """benchmarks/fuzz.py caches tests/cfn_lint.py's findings per template: the same lines, warnings filtered."""
    broken = {"Resources": {
        "Template": {"Type": "AWS::EC2::LaunchTemplate", "Properties": {"LaunchTemplateData": {
            "InstanceType": "p5.huge", "Foo": 1}}},
        "Bucket": {"Type": "AWS::S3::Bucket", "DependsOn": ["Nothing"],
                   "Properties": {"BucketName": {"Ref": "Nope"}}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}}}}
    clean = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}}
    expected = sorted(findings(broken))
    assert len(expected) >= 3
    assert sorted(linter.findings(broken)) == expected
    assert sorted(linter.findings(broken)) == expected  # from the cache
    assert sorted(linter.findings(broken, warnings=False)) == [f for f in expected if not f.startswith("W")]
    assert linter.findings(clean) == findings(clean) == []
