"""The cdk-nag harness fails synth on a finding, and an acknowledgment with a reason clears it."""

from __future__ import annotations

import pytest
from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from cdk_nag import AwsSolutionsChecks

from hpc_constructs import HpcNetwork
from tests.support import new_app


def _open_ssh_app(acknowledge: bool) -> None:
    app = new_app()
    stack = Stack(app, "Nag")
    network = HpcNetwork(stack, "Net")
    sg = ec2.SecurityGroup(stack, "Open", vpc=network.vpc)
    sg.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443))
    if acknowledge:
        Validations.of(sg).acknowledge(Acknowledgment(id="AwsSolutions::AwsSolutions-EC23",
                                                      reason="test: public HTTPS endpoint"))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()


def test_cdk_nag_finding_fails_synth() -> None:
    with pytest.raises(RuntimeError, match=r"ValidationFailed(.|\n)*AwsSolutions-EC23"):
        _open_ssh_app(acknowledge=False)


def test_acknowledged_finding_passes() -> None:
    _open_ssh_app(acknowledge=True)
