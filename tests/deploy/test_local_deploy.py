"""The reference stacks, from their synthesized templates, created and deleted on the local emulator in-process.

What `make deploy-local` does through the CDK CLI, without the CLI: assets are published to the bootstrap
bucket, each stack is created by a change set in the manifest's dependency order, read back through the
service APIs, deleted in reverse order, and the account is checked for orphans. Seconds, not minutes.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import cx_api

from scripts.deploy_local import is_retained
from scripts.emulator import SIMULATED
from scripts.emulator.readback import inventory, read_back
from tests.deploy.conftest import ACCOUNT, REGION


def _publish_assets(outdir: Path, client: Any) -> None:
    """What `cdk deploy` does before a change set: file assets into the bootstrap bucket (zipped directories)."""
    s3 = client("s3")
    s3.create_bucket(Bucket=f"cdk-hnb659fds-assets-{ACCOUNT}-{REGION}")
    client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="30", Type="String")
    for manifest in outdir.glob("*.assets.json"):
        for asset in json.loads(manifest.read_text())["files"].values():
            source = outdir / asset["source"]["path"]
            if asset["source"].get("packaging") == "zip":
                buffer = io.BytesIO()
                with zipfile.ZipFile(buffer, "w") as archive:
                    for path in sorted(source.rglob("*")):
                        if path.is_file():
                            archive.write(path, path.relative_to(source))
                body = buffer.getvalue()
            else:
                body = source.read_bytes()
            for destination in asset["destinations"].values():
                bucket = destination["bucketName"].replace("${AWS::AccountId}", ACCOUNT).replace(
                    "${AWS::Region}", REGION)
                s3.put_object(Bucket=bucket, Key=destination["objectKey"], Body=body)


def _stack_order(assembly: cx_api.CloudAssembly) -> list[str]:
    manifest = json.loads((Path(assembly.directory) / "manifest.json").read_text())
    stacks = {name: [d for d in a.get("dependencies", []) if manifest["artifacts"].get(d, {}).get("type")
                     == "aws:cloudformation:stack"]
              for name, a in manifest["artifacts"].items() if a.get("type") == "aws:cloudformation:stack"}
    order: list[str] = []
    while len(order) < len(stacks):
        order += sorted(n for n, deps in stacks.items() if n not in order and all(d in order for d in deps))
    return order


@pytest.fixture(scope="module")
def deployed(emulator: Any, reference_assembly: cx_api.CloudAssembly) -> dict[str, Any]:
    outdir = Path(reference_assembly.directory)
    _publish_assets(outdir, emulator)
    baseline = inventory(emulator)
    cfn = emulator("cloudformation")
    order = _stack_order(reference_assembly)
    statuses, failures = {}, {}
    for name in order:
        change_set = cfn.create_change_set(
            StackName=name, ChangeSetName="deploy", ChangeSetType="CREATE",
            TemplateBody=(outdir / f"{name}.template.json").read_text(),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
        cfn.execute_change_set(ChangeSetName=change_set["Id"])
        statuses[name] = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        failures[name] = [(e["LogicalResourceId"], e.get("ResourceStatusReason"))
                          for e in cfn.describe_stack_events(StackName=name)["StackEvents"]
                          if e["ResourceStatus"] == "CREATE_FAILED"]
    rows = read_back(emulator)
    retained = [r["PhysicalResourceId"] for name in order
                for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
                if json.loads((outdir / f"{name}.template.json").read_text())["Resources"][r["LogicalResourceId"]]
                .get("DeletionPolicy") == "Retain"]
    for name in reversed(order):
        cfn.delete_stack(StackName=name)
    remaining = {s["StackName"]: s["StackStatus"] for s in cfn.describe_stacks()["Stacks"]
                 if s["StackName"] in order}
    left = inventory(emulator) - baseline
    return {"order": order, "statuses": statuses, "failures": failures, "rows": rows, "retained": retained,
            "remaining": remaining, "left": left}


def _detail(rows: list[tuple[str, str, str]], what: str) -> list[str]:
    return [detail for kind, _, detail in rows if kind == what]


def test_every_stack_is_created(deployed: dict[str, Any]) -> None:
    # the monitoring stack reads every other stack's names, and nothing reads it: it deploys last
    assert deployed["order"][0] == "HpcNetwork" and deployed["order"][-1] == "HpcMonitoring"
    assert deployed["statuses"] == dict.fromkeys(deployed["order"], "CREATE_COMPLETE"), deployed["failures"]


def test_read_back_shows_what_the_templates_ask_for(deployed: dict[str, Any]) -> None:
    rows = deployed["rows"]
    templates = _detail(rows, "launch template")
    assert any(t.startswith("32 network cards, 32 EFA interfaces. card 0: ENA@0 + EFA-only@1") for t in templates)
    # the Gpu, Cpu and Viz fleets (Batch's efa-cpu environment uses the Cpu fleet's), Slurm's cpu and gpu groups
    assert _detail(rows, "placement group") == ["strategy cluster, available"] * 5
    assert _detail(rows, "FSx file system") == ["LUSTRE PERSISTENT_2 SSD 2,400 GiB, 250 MB/s/TiB"]
    assert [d.split(" <-> ")[1][:5] for d in _detail(rows, "FSx data repository")] == ["s3://"]
    assert sorted(d.split(", encrypted")[0] for d in _detail(rows, "EBS volume")) == [
        "gp3 20 GiB, 3,000 IOPS", "io2 2,048 GiB, 64,000 IOPS"]  # the license server's data volume, the project
    environments = _detail(rows, "Batch compute environment")
    assert len(environments) == 3 and any(e.startswith("MANAGED SPOT") for e in environments)
    assert sorted(d.split(":")[0] for d in _detail(rows, "Batch job queue")) == ["priority 1", "priority 10"]
    assert sorted(_detail(rows, "Batch job definition")) == ["container", "multinode"]
    assert _detail(rows, "load balancer")[0].startswith("network, internet-facing, 1 security group(s), 2 AZs")
    assert _detail(rows, "listener") == ["TCP 22"]
    assert [d.split(" -> ")[0] for d in _detail(rows, "DataSync task")] == [
        "nfs://nfs.datacenter.example.com/exports/genomics/"]
    assert _detail(rows, "Direct Connect gateway") == ["ASN 64512, available"]
    (cluster,) = _detail(rows, "PCS cluster")
    assert cluster.startswith("MEDIUM, Slurm 26.05, ACTIVE, endpoints SLURMCTLD ") and cluster.endswith(":6817")
    # PCS names: <node group>-<4 hex digits of its instance types>; queues keep theirs
    groups = {name.rsplit("-", 1)[0]: detail for kind, name, detail in rows if kind == "PCS node group"}
    assert sorted(groups) == ["cpu", "gpu", "login", "spot"]
    assert groups["login"].startswith("c7i.large, 1-1 instances, ONDEMAND")
    assert groups["spot"].startswith("c7i.8xlarge, c7i-flex.8xlarge, 0-16 instances, SPOT")
    assert sorted(d.rsplit("-", 1)[0] for d in _detail(rows, "PCS queue")) == ["-> cpu", "-> gpu", "-> spot"]
    assert any("Custom::VpcRestrictDefaultSG" in s["resource"] for s in SIMULATED)
    # the six images of HpcImages, each with the AMI that the launch templates, Batch and PCS use
    images = _detail(rows, "Image Builder image")
    assert len(images) == 6 and all(i.startswith("AVAILABLE, AMI ami-") for i in images)
    # the AMIs Image Builder made for these images (tagged with the image's name, which the ARN lowercases); the
    # account may hold others, such as the AMI that test_imagebuilder_emulator.py leaves on purpose (an image without
    # DeletionSettings keeps its AMI, as on AWS) when it shares the in-process moto backends with this module
    ours = {name.lower() for kind, name, _ in rows if kind == "Image Builder image"}
    amis = {name for kind, name, detail in rows
            if kind == "AMI" and detail.rsplit(", built by ", 1)[-1] in ours and ", built by " in detail}
    assert len(amis) == 6
    assert amis == {i.split("AMI ")[1].split(",")[0] for i in images}


def test_read_back_shows_the_dashboard_alarms_filter_and_rules(deployed: dict[str, Any]) -> None:
    rows = deployed["rows"]
    (dashboard,) = _detail(rows, "dashboard")
    assert "alarm widgets" in dashboard and "metric widgets" in dashboard and "log widgets" in dashboard
    alarms = _detail(rows, "alarm")
    assert len(alarms) == 21
    assert all(a.endswith("1 alarm and 1 OK action(s)") for a in alarms)
    assert sum("AWS/Events TriggeredRules" in a for a in alarms) == 7
    assert any(a.startswith("AWS/FSx FreeDataStorageCapacity LessThanThreshold 5.15396e+11") for a in alarms)
    (failed_logins,) = _detail(rows, "metric filter")
    assert failed_logins.endswith(': ?"Invalid user" ?"authenticating user" -> '
                                  f"hpc-constructs/HaBastion/{failed_logins.split('hpc-constructs/HaBastion/')[1]}")
    assert failed_logins.endswith(" FailedSshLogins")
    rules = [r for r in _detail(rows, "event rule") if " -> logs /aws/events/" in r]  # JobEvents' rule goes to SNS
    assert sorted(r.split(" -> ")[0] for r in rules) == [
        "Batch Job Queue Blocked", "Batch Job State Change", "DataSync Task Execution State Change",
        *["EC2 Instance Launch Unsuccessful"] * 4]


def test_read_back_shows_the_license_server(deployed: dict[str, Any]) -> None:
    rows = deployed["rows"]
    assert [name for kind, name, _ in rows if kind == "HaInstance"] == ["HpcLicense/LicenseServer"]
    (group,) = _detail(rows, "HaInstance")
    assert group.startswith("group min 1, max 1, desired 1 over 2 AZs")
    assert "hpc-launch launching 900 s -> ABANDON" in group and "hpc-terminate terminating 300 s -> CONTINUE" in group
    (volume,) = _detail(rows, "HaInstance data volume")
    assert volume.startswith("generation 0, gp3 20 GiB, encrypted True") and volume.endswith("snapshot target True")
    assert _detail(rows, "private hosted zone") == [
        "1 VPC(s); 0 record(s) now (the instance writes its A record at boot)"]
    # the Gpu, Cpu and Viz fleets, the three Batch environments' own groups, the VPC default group (the multi-node
    # jobs' containers), the Slurm nodes
    assert _detail(rows, "HaInstance clients") == ["TCP 27000, 27001 from 8 security group(s)"]
    assert _detail(rows, "EventBridge schedule") == ["rate(15 minutes) -> ssm:sendCommand, ENABLED"]
    assert _detail(rows, "SSM document") == ["Command, JSON"]


def test_destroy_leaves_only_the_retained_storage(deployed: dict[str, Any]) -> None:
    assert deployed["remaining"] == {}
    retained = deployed["retained"]
    assert len(retained) == 13  # the license server's data volume, HpcMonitoring's alarm-topic key and event log
    orphans = sorted(item for item in deployed["left"]
                     if not is_retained(item[1], [("", "", physical) for physical in retained]))
    assert orphans == []
    kinds = sorted(kind for kind, _ in deployed["left"])
    assert kinds.count("log group") == 5 and kinds.count("S3 bucket") == 2 and "FSx file system" in kinds
