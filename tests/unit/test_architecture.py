"""scripts/architecture.py: the Mermaid diagram of the reference app, derived from the construct tree and templates."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import cx_api

from scripts import architecture
from tests.support import ROOT

FLEETS = ("Cpu", "Gpu", "Viz")
REFERENCE_NODES = {
    "HpcNetwork": {"Network": "HpcNetwork", "SshUsers": "SshUsers"},
    "HpcStorage": {"Storage": "StorageLayer"},
    "HpcDataTransfer": {"DataTransfer": "DataTransferLayer"},
    "HpcAccess": {"Bastion": "HaBastion"},
    "HpcLicense": {"LicenseServer": "HaInstance"},
    "HpcCompute": {fleet: "ComputeFleet" for fleet in FLEETS},
    "HpcBatch": {"Batch": "BatchOrchestration"},
    "HpcSlurm": {"Slurm": "SlurmCluster"},
}

_ID = r"([A-Za-z][A-Za-z0-9]*)"
_LABEL = r'"([^"]*)"'
SUBGRAPH = re.compile(rf"^  subgraph {_ID}\[{_LABEL}\]$")
NODE = re.compile(rf"^    {_ID}\[{_LABEL}\]$")
EDGE = re.compile(rf"^  {_ID} -- {_LABEL} --> {_ID}$")
DOTTED = re.compile(rf"^  {_ID} -\.->\|{_LABEL}\| {_ID}$")


class Diagram:
    """The flowchart parsed line by line; a line that is none of the forms we emit fails the parse."""

    def __init__(self, text: str) -> None:
        lines = text.rstrip("\n").split("\n")
        assert lines[0] == "flowchart LR"
        self.subgraphs: dict[str, dict[str, str]] = {}  # stack label -> {node id: node label}
        self.labels: dict[str, str] = {}  # node id -> label
        self.edges: dict[tuple[str, str], str] = {}
        self.dotted: dict[tuple[str, str], str] = {}
        current: str | None = None
        for line in lines[1:]:
            if match := SUBGRAPH.match(line):
                assert current is None, f"nested subgraph: {line}"
                current = match[2]
                self.subgraphs[current] = {}
                self.labels[match[1]] = current
            elif line == "  end":
                assert current is not None, "end without subgraph"
                current = None
            elif match := NODE.match(line):
                assert current is not None, f"node outside a subgraph: {line}"
                assert match[1] not in self.labels, f"duplicate id {match[1]}"
                self.subgraphs[current][match[1]] = match[2]
                self.labels[match[1]] = match[2]
            elif match := EDGE.match(line):
                assert (match[1], match[3]) not in self.edges
                self.edges[(match[1], match[3])] = match[2]
            elif match := DOTTED.match(line):
                self.dotted[(match[1], match[3])] = match[2]
            else:
                raise AssertionError(f"not a line of the diagram's grammar: {line!r}")
        assert current is None, "unclosed subgraph"
        nodes = {n for members in self.subgraphs.values() for n in members}
        for source, target in [*self.edges, *self.dotted]:
            assert {source, target} <= nodes, f"edge between undeclared nodes: {source} -> {target}"

    def node(self, stack: str, construct: str) -> str:
        """The id of the node labelled `construct (...)` in the subgraph of `stack`."""
        ids = [i for i, label in self.subgraphs[stack].items() if label.startswith(construct + " (")]
        assert len(ids) == 1, (stack, construct, self.subgraphs[stack])
        return ids[0]


@pytest.fixture(scope="module")
def outdir(reference_assembly: cx_api.CloudAssembly) -> Path:
    return Path(reference_assembly.directory)


@pytest.fixture(scope="module")
def text(outdir: Path) -> str:
    return architecture.mermaid(outdir)


@pytest.fixture(scope="module")
def diagram(text: str) -> Diagram:
    return Diagram(text)


def test_every_line_is_in_the_grammar_ids_alphanumeric_labels_quoted(diagram: Diagram, text: str) -> None:
    assert diagram.subgraphs  # parsing asserted the rest
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", i) for i in diagram.labels)
    assert text.endswith("\n")


def test_one_subgraph_per_reference_stack(diagram: Diagram, reference_assembly: cx_api.CloudAssembly) -> None:
    assert set(diagram.subgraphs) == {stack.stack_name for stack in reference_assembly.stacks} == set(REFERENCE_NODES)


def test_the_library_constructs_are_the_nodes_with_their_class(diagram: Diagram) -> None:
    found = {stack: {label.split(" (")[0]: label.split(" (")[1].rstrip(")") for label in members.values()}
             for stack, members in diagram.subgraphs.items()}
    assert found == REFERENCE_NODES  # and nothing of CDK's own (CDKMetadata, providers, Publish outputs)


def test_the_bastions_reach_every_fleet_and_the_slurm_login_nodes_on_ssh(diagram: Diagram) -> None:
    bastion = diagram.node("HpcAccess", "Bastion")
    slurm = diagram.node("HpcSlurm", "Slurm")
    for fleet in FLEETS:
        assert diagram.edges[(bastion, diagram.node("HpcCompute", fleet))] == "SSH 22"
    assert diagram.edges[(bastion, slurm)] == "SSH 22"
    assert sorted(pair for pair, label in diagram.edges.items() if "SSH" in label) == sorted(
        [(bastion, diagram.node("HpcCompute", fleet)) for fleet in FLEETS] + [(bastion, slurm)])


def test_the_fleets_mount_the_storage_once_in_the_direction_of_the_mount(diagram: Diagram) -> None:
    storage = diagram.node("HpcStorage", "Storage")
    for fleet in FLEETS:
        node = diagram.node("HpcCompute", fleet)
        label = diagram.edges[(node, storage)]
        assert "Lustre 988, 1018-1023" in label
        assert "NFS 2049" in label
        assert ("EBS" in label) == (fleet == "Viz")  # only Viz mounts the project volume
        assert (storage, node) not in diagram.edges  # Lustre's servers answering their clients is the same link
    assert not [pair for pair in diagram.edges if pair[0] == storage]


def test_the_batch_efa_environment_is_built_from_the_cpu_fleet(diagram: Diagram) -> None:
    batch = diagram.node("HpcBatch", "Batch")
    assert diagram.edges[(batch, diagram.node("HpcCompute", "Cpu"))] == "environment efa-cpu"
    assert (batch, diagram.node("HpcCompute", "Gpu")) not in diagram.edges
    assert "NFS 2049" in diagram.edges[(batch, diagram.node("HpcStorage", "Storage"))]  # its environments mount it


def test_data_transfer_lands_in_the_storage_bucket(diagram: Diagram) -> None:
    label = diagram.edges[(diagram.node("HpcDataTransfer", "DataTransfer"), diagram.node("HpcStorage", "Storage"))]
    assert "DataSync genomics-daily" in label


def test_everything_but_the_user_list_is_in_the_networks_vpc(diagram: Diagram) -> None:
    network = diagram.node("HpcNetwork", "Network")
    users = diagram.node("HpcNetwork", "SshUsers")  # an SSM parameter: no network of its own
    others = {i for members in diagram.subgraphs.values() for i in members} - {network, users}
    assert diagram.dotted == {(network, other): "VPC" for other in others}


def test_every_construct_with_logins_reads_the_user_list(diagram: Diagram) -> None:
    users = diagram.node("HpcNetwork", "SshUsers")
    readers = {diagram.node("HpcAccess", "Bastion"), diagram.node("HpcSlurm", "Slurm"),
               *(diagram.node("HpcCompute", fleet) for fleet in FLEETS)}
    assert {source for (source, target) in diagram.edges if target == users} == readers
    assert all(diagram.edges[(reader, users)] == "SSM" for reader in readers)


def test_the_output_is_deterministic_and_sorted(outdir: Path, text: str) -> None:
    assert architecture.mermaid(outdir) == text
    diagram = Diagram(text)
    assert list(diagram.edges) == sorted(diagram.edges)
    assert list(diagram.dotted) == sorted(diagram.dotted)
    assert list(diagram.subgraphs) == sorted(diagram.subgraphs)
    for members in diagram.subgraphs.values():
        assert list(members) == sorted(members)


def test_architecture_md_wraps_the_diagram_in_a_mermaid_fence(tmp_path: Path, outdir: Path, text: str) -> None:
    copy = tmp_path / "cdk.out"
    shutil.copytree(outdir, copy)
    written = architecture.write(copy).read_text()
    assert written.startswith("# Architecture\n")
    assert "```mermaid\n" + text + "```\n" in written


def test_readme_embeds_the_diagram_of_the_reference_environment(outdir: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    assert architecture.readme_block(readme) == architecture.mermaid_block(outdir).strip(), (
        "README.md's architecture diagram is stale: run "
        "`python scripts/architecture.py --update-readme README.md cdk.out` after `make synth`")
    section = readme.split("## Architecture of the reference environment\n", 1)[1].split("\n## ", 1)[0]
    assert "`make synth`" in section and "cdk.out/architecture.md" in section
    assert architecture.README_BEGIN in section


# A hand-made assembly: strong references (Fn::ImportValue with a literal and a Fn::Sub export name), a construct
# the signatures do not know, a CDK construct placed directly in a stack, one construct id in two stacks, no tree.


def _resource(kind: str, path: str, **props: Any) -> dict[str, Any]:
    return {"Type": kind, "Properties": props, "Metadata": {"aws:cdk:path": path}}


def _assembly(tmp_path: Path, with_tree: bool) -> Path:
    producer = {
        "Resources": {
            "NetVpc": _resource("AWS::EC2::VPC", "Base/Net/Vpc/Resource"),
            "StoreFs": _resource("AWS::EFS::FileSystem", "Base/Store/Fs/Resource"),
            "StoreSg": _resource("AWS::EC2::SecurityGroup", "Base/Store/Sg/Resource",
                                 VpcId={"Ref": "NetVpc"}),
            "CDKMetadata": _resource("AWS::CDK::Metadata", "Base/CDKMetadata/Default"),
        },
        "Outputs": {
            "Sg": {"Value": {"Fn::GetAtt": ["StoreSg", "GroupId"]}, "Export": {"Name": "base-prod:StoreSg"}},
            "Vpc": {"Value": {"Ref": "NetVpc"}, "Export": {"Name": {"Fn::Sub": "${AWS::StackName}:Vpc"}}},
        },
    }
    consumer = {
        "Resources": {
            "NodesSg": _resource("AWS::EC2::SecurityGroup", "Apps/Nodes/Sg/Resource",
                                 VpcId={"Fn::ImportValue": "base-prod:Vpc"}),
            "NodesToStore": _resource("AWS::EC2::SecurityGroupIngress", "Apps/Nodes/ToStore",
                                      GroupId={"Fn::ImportValue": "base-prod:StoreSg"}, IpProtocol="tcp",
                                      FromPort=2049, ToPort=2049,
                                      SourceSecurityGroupId={"Fn::GetAtt": ["NodesSg", "GroupId"]}),
            "NodesHost": _resource("AWS::EC2::Instance", "Apps/Nodes/Host/Resource",
                                   SecurityGroupIds=[{"Fn::GetAtt": ["NodesSg", "GroupId"]}]),
            "StoreBucket": _resource("AWS::S3::Bucket", "Apps/Store/Bucket/Resource"),
            "LogsBucket": _resource("AWS::S3::Bucket", "Apps/Logs/Resource"),
        },
    }
    stacks = {"Base": ("base-prod", producer), "Apps": ("Apps", consumer)}
    artifacts: dict[str, Any] = {}
    tree_children: dict[str, Any] = {}
    for name, (stack_name, template) in stacks.items():
        (tmp_path / f"{name}.template.json").write_text(json.dumps(template))
        artifacts[name] = {"type": "aws:cloudformation:stack", "displayName": name,
                           "properties": {"templateFile": f"{name}.template.json", "stackName": stack_name}}
        children: dict[str, Any] = {}
        for logical_id, resource in template["Resources"].items():
            parts = resource["Metadata"]["aws:cdk:path"].split("/")
            fqn = "aws-cdk-lib.aws_s3.Bucket" if parts[1] == "Logs" else "constructs.Construct"
            top = children.setdefault(parts[1], {"id": parts[1], "path": "/".join(parts[:2]),
                                                  "constructInfo": {"fqn": fqn}, "children": {}})
            top["children"][logical_id] = {"id": parts[-1], "path": "/".join(parts),
                                           "attributes": {"aws:cdk:cloudformation:logicalId": logical_id}}
        tree_children[name] = {"id": name, "path": name, "constructInfo": {"fqn": "aws-cdk-lib.Stack"},
                               "children": children}
    if with_tree:
        artifacts["Tree"] = {"type": "cdk:tree", "properties": {"file": "tree.json"}}
        (tmp_path / "tree.json").write_text(json.dumps(
            {"version": "tree-0.1", "tree": {"id": "App", "path": "", "children": tree_children}}))
    (tmp_path / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": artifacts}))
    return tmp_path


@pytest.mark.parametrize("with_tree", [True, False], ids=["tree", "no-tree"])
def test_import_value_unknown_constructs_and_ambiguous_ids(tmp_path: Path, with_tree: bool) -> None:
    diagram = Diagram(architecture.mermaid(_assembly(tmp_path, with_tree)))
    assert diagram.subgraphs == {
        "Apps": {"AppsStore": "Store (StorageLayer)", "Nodes": "Nodes (Construct)"}
        | ({} if with_tree else {"Logs": "Logs (StorageLayer)"}),  # without a tree, no fqn tells it is CDK's
        "Base": {"BaseStore": "Store (StorageLayer)", "Net": "Net (HpcNetwork)"},
    }
    assert diagram.edges == {("Nodes", "BaseStore"): "NFS 2049"}
    assert diagram.dotted == {("Net", "Nodes"): "VPC", ("Net", "BaseStore"): "VPC"}
