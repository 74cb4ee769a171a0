"""BatchOrchestration as a real account meets it: the groups Batch gives multi-node jobs, events that are never
lost, updates that never cut jobs, tags that replace nothing, queue names that never collide, jobs that cannot
take the instance role. Each test reads the synthesized templates (the reference app's where it can)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Duration, NestedStack, Stack, Tags
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from hpc_constructs import (
    BatchOrchestration,
    ComputeEnvironmentSpec,
    ConfigError,
    ContainerJobSpec,
    HpcNetwork,
    JobQueueSpec,
    MultiNodeJobSpec,
    boot,
)
from hpc_constructs.batch import ECS_AGENT_SETTINGS, physical_name_prefix
from hpc_constructs.catalog.limits import BATCH
from tests.support import new_app, new_stack

Templates = dict[str, dict[str, Any]]
IMAGE = "public.ecr.aws/hpc/app:1"
SCHEMAS = Path(__import__("cfnlint").__file__).parent / "data" / "schemas"


# -- reading templates the way the services do ----------------------------------------------------------------

def _resolve(templates: Templates, stack: str, value: Any) -> tuple[str, Any]:
    """(stack, expression) of a value, following cross-stack references to the stack that owns it."""
    if isinstance(value, dict) and "Fn::GetStackOutput" in value:
        ref = value["Fn::GetStackOutput"]
        return _resolve(templates, ref["StackName"], templates[ref["StackName"]]["Outputs"][ref["OutputName"]]["Value"])
    if isinstance(value, dict) and "Fn::ImportValue" in value:
        for name, template in templates.items():
            for output in template.get("Outputs", {}).values():
                if output.get("Export", {}).get("Name") == value["Fn::ImportValue"]:
                    return _resolve(templates, name, output["Value"])
        raise AssertionError(f"no export {value}")
    return stack, value


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _job_interface_groups(templates: Templates, stack: str, environment: dict[str, Any]) -> list[tuple[str, Any]]:
    """Batch's rule (mnp-ce): the environment's SecurityGroupIds, else the VPC's default security group."""
    resources = environment["Properties"]["ComputeResources"]
    if resources.get("SecurityGroupIds"):
        return [_resolve(templates, stack, g) for g in resources["SecurityGroupIds"]]
    owner, subnet = _resolve(templates, stack, resources["Subnets"][0])
    vpc = templates[owner]["Resources"][subnet["Ref"]]["Properties"]["VpcId"]
    return [(owner, {"Fn::GetAtt": [vpc["Ref"], "DefaultSecurityGroup"]})]


def _rules(templates: Templates, group: tuple[str, Any]) -> list[dict[str, Any]]:
    """Every separate rule of `group`, in any template, with its peer resolved."""
    found = []
    for name, template in templates.items():
        for kind in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
            for rule in _of_type(template, kind).values():
                props = rule["Properties"]
                if _resolve(templates, name, props["GroupId"]) != group:
                    continue
                peer = props.get("SourceSecurityGroupId", props.get("DestinationSecurityGroupId"))
                found.append({"kind": "in" if kind.endswith("Ingress") else "out", "protocol": str(props["IpProtocol"]),
                              "ports": (props.get("FromPort"), props.get("ToPort")), "cidr": props.get("CidrIp"),
                              "peer": _resolve(templates, name, peer) if peer is not None else None})
    return found


def _multi_node_environments(templates: Templates) -> list[tuple[str, dict[str, Any]]]:
    """The On-Demand EC2 environments on which a multi-node job definition of the app can run (its type)."""
    found = []
    for name, template in templates.items():
        types = {c["Container"]["InstanceType"] for j in _of_type(template, "AWS::Batch::JobDefinition").values()
                 if j["Properties"]["Type"] == "multinode"
                 for c in j["Properties"]["NodeProperties"]["NodeRangeProperties"]}
        for environment in _of_type(template, "AWS::Batch::ComputeEnvironment").values():
            resources = environment["Properties"]["ComputeResources"]
            if resources["Type"] == "EC2" and types & set(resources.get("InstanceTypes", [])):
                found.append((name, environment))
    return found


# -- 1. the groups multi-node jobs really get -----------------------------------------------------------------

def test_multi_node_job_interfaces_reach_each_other_and_https(reference_templates: Templates) -> None:
    environments = _multi_node_environments(reference_templates)
    assert environments, "the reference app runs a multi-node job"
    for stack, environment in environments:
        groups = _job_interface_groups(reference_templates, stack, environment)
        rules = [r for g in groups for r in _rules(reference_templates, g)]
        assert any(r["kind"] == "in" and r["protocol"] == "-1" and r["peer"] in groups for r in rules), groups
        assert any(r["kind"] == "out" and r["protocol"] == "-1" and r["peer"] in groups for r in rules), groups
        assert any(r["kind"] == "out" and r["protocol"] == "tcp" and r["ports"] == (443, 443)
                   and r["cidr"] == "0.0.0.0/0" for r in rules), groups


def test_the_efa_environment_leaves_its_job_interfaces_to_the_vpc_default_group(
        reference_templates: Templates) -> None:
    """The reference's EFA environment has no SecurityGroupIds (Batch refuses them beside the launch template's
    interfaces), so the rules above must sit on the VPC's default group, which CDK emptied."""
    (stack, environment), = _multi_node_environments(reference_templates)
    assert "SecurityGroupIds" not in environment["Properties"]["ComputeResources"]
    (group,) = _job_interface_groups(reference_templates, stack, environment)
    assert group[1]["Fn::GetAtt"][1] == "DefaultSecurityGroup"
    restrictions = _of_type(reference_templates[group[0]], "Custom::VpcRestrictDefaultSG")
    assert len(restrictions) == 1  # so no rule but ours: exactly three, and one out to the license server per port
    rules = _rules(reference_templates, group)
    license_ports = [r["ports"] for r in rules if r["kind"] == "out" and r["protocol"] == "tcp"
                     and r["ports"] != (443, 443)]
    assert len(rules) == 3 + 2 and sorted(license_ports) == [(27000, 27000), (27001, 27001)]
    # The environment (its nodes and jobs) waits for the rules.
    logical = next(k for k, v in reference_templates[stack]["Resources"].items() if v is environment)
    rules = [k for k, v in reference_templates[stack]["Resources"].items()
             if v["Type"].startswith("AWS::EC2::SecurityGroup") and "VpcDefaultSecurityGroup" in k
             and "HpcLicense" not in k]
    assert len(rules) == 3 and set(rules) <= set(reference_templates[stack]["Resources"][logical]["DependsOn"])


def _mnp_orchestration(stack: Stack, vpc: ec2.IVpc, subnet: ec2.ISubnet, **kwargs: Any) -> BatchOrchestration:
    return BatchOrchestration(
        stack, "Batch", vpc=vpc, job_events=False,
        compute_environments=[ComputeEnvironmentSpec("efa", instance_types=("c6in.32xlarge",), max_vcpus=256,
                                                     subnet=subnet)],
        multi_node_jobs=[MultiNodeJobSpec("mpi", IMAGE, "efa", 2, "c6in.32xlarge")], **kwargs)


def test_default_group_rules_are_made_after_cdk_empties_the_group() -> None:
    """In one stack, the rule "all traffic from the group itself" would be revoked with AWS's own if the
    restriction ran after it."""
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    orchestration = _mnp_orchestration(stack, network.vpc, network.cluster_subnet)
    built = Template.from_stack(stack).to_json()["Resources"]
    restriction = next(k for k, v in built.items() if v["Type"] == "Custom::VpcRestrictDefaultSG")
    (vpc,) = [k for k, v in built.items() if v["Type"] == "AWS::EC2::VPC"]
    rules = {k: v for k, v in built.items() if v["Type"].startswith("AWS::EC2::SecurityGroup") and
             v["Properties"].get("GroupId") == {"Fn::GetAtt": [vpc, "DefaultSecurityGroup"]}}
    assert len(rules) == 3
    assert all(restriction in v["DependsOn"] for v in rules.values())
    assert orchestration.job_interface_security_group is not None
    assert stack.resolve(orchestration.job_interface_security_group.security_group_id) in [
        stack.resolve(g.security_group_id) for g in orchestration.connections.security_groups]


def test_an_unrestricted_default_group_gets_no_duplicate_rules() -> None:
    stack = new_stack()
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, restrict_default_security_group=False)
    _mnp_orchestration(stack, vpc, vpc.private_subnets[0])
    built = Template.from_stack(stack).to_json()["Resources"]
    assert not [k for k, v in built.items() if v["Type"].startswith("AWS::EC2::SecurityGroup")
                and "VpcDefaultSecurityGroup" in k]


def test_an_imported_vpc_must_name_its_default_group() -> None:
    stack = Stack(new_app(), "Imported", env={"account": "111122223333", "region": "us-east-1"})
    vpc = ec2.Vpc.from_vpc_attributes(stack, "Vpc", vpc_id="vpc-1", availability_zones=["us-east-1a"],
                                      private_subnet_ids=["subnet-1"])
    with pytest.raises(ConfigError, match="vpc_default_security_group"):
        _mnp_orchestration(stack, vpc, vpc.private_subnets[0])
    other = Stack(new_app(), "Imported", env={"account": "111122223333", "region": "us-east-1"})
    vpc = ec2.Vpc.from_vpc_attributes(other, "Vpc", vpc_id="vpc-1", availability_zones=["us-east-1a"],
                                      private_subnet_ids=["subnet-1"])
    group = ec2.SecurityGroup.from_security_group_id(other, "Default", "sg-0123456789abcdef0")
    orchestration = _mnp_orchestration(other, vpc, vpc.private_subnets[0], vpc_default_security_group=group)
    assert orchestration.job_interface_security_group is not None
    assert orchestration.job_interface_security_group.security_group_id == "sg-0123456789abcdef0"


# -- 2. a function's queue outlives its timeout ---------------------------------------------------------------

def test_each_event_source_queue_waits_six_function_timeouts() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    orchestration = BatchOrchestration(stack, "B", vpc=network.vpc,
                                       compute_environments=[ComputeEnvironmentSpec("cpu")])
    slow = lambda_.Function(stack, "Slow", runtime=lambda_.Runtime.PYTHON_3_13, handler="i.h",
                            code=lambda_.Code.from_inline("x"), timeout=Duration.minutes(5))
    quick = lambda_.Function(stack, "Quick", runtime=lambda_.Runtime.PYTHON_3_13, handler="i.h",
                             code=lambda_.Code.from_inline("x"))
    imported = lambda_.Function.from_function_arn(stack, "Imported",
                                                  "arn:aws:lambda:us-east-1:111122223333:function:f")
    orchestration.subscribe_function(slow)
    orchestration.subscribe_function(quick)
    with pytest.raises(ConfigError, match="function_timeout"):
        orchestration.subscribe_function(imported, name="imported")
    orchestration.subscribe_function(imported, name="imported2", function_timeout=Duration.minutes(15))
    with pytest.raises(ConfigError, match="at least the function's own timeout"):
        orchestration.subscribe_function(slow, name="again", function_timeout=Duration.minutes(1))
    built = Template.from_stack(stack).to_json()["Resources"]
    visibility = {}
    for mapping in _of_type({"Resources": built}, "AWS::Lambda::EventSourceMapping").values():
        queue = built[mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]]["Properties"]
        function = mapping["Properties"]["FunctionName"]
        key = function["Ref"] if isinstance(function, dict) else function  # an imported function: its name
        visibility[key] = queue.get("VisibilityTimeout", 30)
    timeouts = {k: v["Properties"].get("Timeout", 3) for k, v in built.items() if v["Type"] == "AWS::Lambda::Function"
                and k in visibility}
    assert timeouts and all(visibility[k] >= 6 * t for k, t in timeouts.items()), (visibility, timeouts)
    assert sorted(visibility.values()) == [30, 1800, 5400]  # 6 x 3 s is below SQS's default; 6 x 5 min; 6 x 15 min


# -- 3. no event lost, no event injected ----------------------------------------------------------------------

def test_every_hop_keeps_what_it_cannot_deliver(reference_templates: Templates) -> None:
    template = reference_templates["HpcBatch"]
    resources = template["Resources"]
    queues = _of_type(template, "AWS::SQS::Queue")
    for rule in _of_type(template, "AWS::Events::Rule").values():
        (target,) = rule["Properties"]["Targets"]
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
        dead = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
        assert queues[dead]["Properties"]["MessageRetentionPeriod"] == 1_209_600
    for subscription in _of_type(template, "AWS::SNS::Subscription").values():
        dead = subscription["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert resources[dead]["Type"] == "AWS::SQS::Queue"
        assert queues[dead]["Properties"]["MessageRetentionPeriod"] == 1_209_600
    # Each dead-letter queue admits the service that parks messages there, for this app's rule or topic only.
    policies = {p["Properties"]["Queues"][0]["Ref"]: p["Properties"]["PolicyDocument"]["Statement"]
                for p in _of_type(template, "AWS::SQS::QueuePolicy").values()}
    rule_dead = next(iter(_of_type(template, "AWS::Events::Rule").values()))["Properties"]["Targets"][0][
        "DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    (allow,) = [s for s in policies[rule_dead] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Condition"]["ArnEquals"]["aws:SourceArn"] == [
        {"Fn::GetAtt": [k, "Arn"]} for k in _of_type(template, "AWS::Events::Rule")]


def test_only_these_rules_of_this_account_publish_and_use_the_key(reference_templates: Templates) -> None:
    template = reference_templates["HpcBatch"]
    rules = [{"Fn::GetAtt": [k, "Arn"]} for k in _of_type(template, "AWS::Events::Rule")]
    (policy,) = _of_type(template, "AWS::SNS::TopicPolicy").values()
    publishers = [s for s in policy["Properties"]["PolicyDocument"]["Statement"]
                  if s["Effect"] == "Allow" and s["Principal"] == {"Service": "events.amazonaws.com"}]
    assert len(publishers) == 1
    assert publishers[0]["Condition"] == {"ArnEquals": {"aws:SourceArn": rules},
                                          "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    (topic,) = _of_type(template, "AWS::SNS::Topic").values()
    key = template["Resources"][topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]]
    events = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
              if s.get("Principal") == {"Service": "events.amazonaws.com"}]
    assert len(events) == 1 and set(events[0]["Condition"]) == {"StringEquals", "ArnLike"}
    assert events[0]["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert ":rule/*" in json.dumps(events[0]["Condition"]["ArnLike"]["aws:SourceArn"])


# -- 4. updates wait for the longest job ----------------------------------------------------------------------

def test_updates_wait_for_the_longest_job_of_each_environment(reference_templates: Templates) -> None:
    waits = {}
    for logical, environment in _of_type(reference_templates["HpcBatch"], "AWS::Batch::ComputeEnvironment").items():
        waits[logical] = environment["Properties"].get("UpdatePolicy", {}).get("JobExecutionTimeoutMinutes")
    by_name = {next(n for n in ("spotcpu", "efacpu", "gpu") if n in k): v for k, v in waits.items()}
    # mpi-osu: 120 minutes on efa-cpu; gpu-render: 240 on gpu; spot-cpu runs no defined job: the default day
    assert by_name == {"efacpu": 120, "gpu": 240, "spotcpu": 1440}


def test_an_update_wait_stays_within_batchs_maximum() -> None:
    stack = new_stack()
    network = HpcNetwork(stack, "Net")
    orchestration = BatchOrchestration(
        stack, "B", vpc=network.vpc, job_events=False, compute_environments=[ComputeEnvironmentSpec("cpu")],
        container_jobs=[ContainerJobSpec("week", IMAGE, vcpus=1, memory_mib=1024, compute_environment="cpu",
                                         timeout_minutes=7 * 24 * 60)])
    assert orchestration.plan.update_job_timeout_minutes("cpu") == BATCH.max_update_job_execution_timeout_minutes
    assert "longer than Batch allows" in str(orchestration.figures["environment cpu"])
    (environment,) = _of_type(Template.from_stack(stack).to_json(), "AWS::Batch::ComputeEnvironment").values()
    assert environment["Properties"]["UpdatePolicy"]["JobExecutionTimeoutMinutes"] == 7_200


# -- 5. app-wide tags replace no environment ------------------------------------------------------------------

def _create_only(kind: str) -> list[list[str]]:
    providers = json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text())
    schema = json.loads((SCHEMAS / "resources" / f"{providers[kind]}.json").read_text())
    return [p.split("/")[2:] for p in schema.get("createOnlyProperties", [])]


def _at(properties: dict[str, Any], path: list[str]) -> Any:
    for part in path:
        if not isinstance(properties, dict) or part not in properties:
            return None
        properties = properties[part]
    return properties


def _resources_with_tag(value: str) -> dict[str, dict[str, Any]]:
    app = new_app()
    stack = Stack(app, "Tagged")
    network = HpcNetwork(stack, "Net")
    BatchOrchestration(
        stack, "B", vpc=network.vpc, job_events=False,
        compute_environments=[ComputeEnvironmentSpec("cpu"),
                              ComputeEnvironmentSpec("efa", instance_types=("c6in.32xlarge",), max_vcpus=256,
                                                     subnet=network.cluster_subnet),
                              ComputeEnvironmentSpec("serverless", fargate=True)],
        job_queues=[JobQueueSpec("ec2", ("cpu", "efa")), JobQueueSpec("fargate", ("serverless",))],
        multi_node_jobs=[MultiNodeJobSpec("mpi", IMAGE, "efa", 2, "c6in.32xlarge")])
    Tags.of(app).add("cost-centre", value)
    template = app.synth().get_stack_by_name("Tagged").template
    return {k: v for k, v in template["Resources"].items() if v["Type"] != "AWS::CDK::Metadata"}


def test_an_app_wide_tag_changes_no_create_only_property_of_any_resource() -> None:
    """Compute environments and placement groups list Tags as create-only in CloudFormation's schemas: an app-wide
    tag must not reach them there (the environments' tags go to ComputeResources.Tags)."""
    before, after = _resources_with_tag("research"), _resources_with_tag("finance")
    assert ["Tags"] in _create_only("AWS::Batch::ComputeEnvironment")  # the schema's word, not ours
    assert ["Tags"] in _create_only("AWS::EC2::PlacementGroup")
    assert before.keys() == after.keys()
    kinds = {r["Type"] for r in after.values()}
    assert {"AWS::Batch::ComputeEnvironment", "AWS::EC2::PlacementGroup"} <= kinds
    for logical, resource in before.items():
        if resource["Type"].startswith("Custom::"):
            continue
        for path in _create_only(resource["Type"]):
            assert _at(resource.get("Properties", {}), path) == _at(after[logical].get("Properties", {}), path), (
                logical, path)
    environments = {k: v["Properties"] for k, v in after.items() if v["Type"] == "AWS::Batch::ComputeEnvironment"}
    assert len(environments) == 3
    # The tag still reaches what the environments launch: ComputeResources.Tags updates in place.
    ec2_environments = [p for p in environments.values() if p["ComputeResources"]["Type"] != "FARGATE"]
    assert len(ec2_environments) == 2
    assert all(p["ComputeResources"]["Tags"] == {"cost-centre": "finance"} for p in ec2_environments)


def test_the_reference_environments_carry_the_project_tag_on_their_instances(reference_templates: Templates) -> None:
    for environment in _of_type(reference_templates["HpcBatch"], "AWS::Batch::ComputeEnvironment").values():
        assert "Tags" not in environment["Properties"]
        assert environment["Properties"]["ComputeResources"]["Tags"] == {"project": "hpc-constructs"}


# -- 6. a queue that moves to another template gets another name ----------------------------------------------

def test_queue_names_follow_the_template_they_live_in() -> None:
    stack = new_stack("Hpc")
    network = HpcNetwork(stack, "Net")
    top = BatchOrchestration(stack, "Batch", vpc=network.vpc, job_events=False,
                             compute_environments=[ComputeEnvironmentSpec("cpu")],
                             job_queues=[JobQueueSpec("high", ("cpu",))])
    nested = BatchOrchestration(NestedStack(stack, "Queues1"), "Batch", vpc=network.vpc, job_events=False,
                                compute_environments=[ComputeEnvironmentSpec("cpu")],
                                job_queues=[JobQueueSpec("low", ("cpu",))],
                                container_jobs=[ContainerJobSpec("x", IMAGE, vcpus=1, memory_mib=1024,
                                                                 compute_environment="cpu")])
    assert top.job_queues["high"].job_queue_name == "Hpc-high"
    assert nested.job_queues["low"].job_queue_name == "Hpc-Queues1-low"
    assert physical_name_prefix(nested) == "Hpc-Queues1-"
    assert physical_name_prefix(top) == "Hpc-"
    # Job definitions too: a job definition's name is its primary identifier in CloudFormation's schema.
    assert Stack.of(nested).resolve(nested.job_definitions["x"].job_definition_name) == "Hpc-Queues1-x"


def test_the_same_queue_name_twice_in_one_template_is_refused() -> None:
    stack = new_stack()
    vpc = HpcNetwork(stack, "Net").vpc
    BatchOrchestration(stack, "A", vpc=vpc, job_events=False, compute_environments=[ComputeEnvironmentSpec("cpu")],
                       job_queues=[JobQueueSpec("q0", ("cpu",))])
    with pytest.raises(ConfigError, match=r"'Test-q0'.*not used by another BatchOrchestration.*Test/A"):
        BatchOrchestration(stack, "B", vpc=vpc, job_events=False,
                           compute_environments=[ComputeEnvironmentSpec("cpu")],
                           job_queues=[JobQueueSpec("q0", ("cpu",))])


# -- 7. jobs cannot take the instance role --------------------------------------------------------------------

def _launch_template_user_data(template: dict[str, Any]) -> list[str]:
    return [json.dumps(t["Properties"]["LaunchTemplateData"]["UserData"])
            for k, t in _of_type(template, "AWS::EC2::LaunchTemplate").items() if "Environment" in k]


def test_every_batch_node_keeps_the_metadata_service_from_its_jobs(reference_templates: Templates) -> None:
    template = reference_templates["HpcBatch"]
    texts = _launch_template_user_data(template)
    assert len(texts) == 3
    for text in texts:
        for setting in ECS_AGENT_SETTINGS:
            assert f"grep -qx '{setting}' /etc/ecs/ecs.config || echo '{setting}' >> /etc/ecs/ecs.config" in text
        assert "ExecStart=/usr/local/sbin/hpc-imds-guard --non-root --ecs-tasks" in text
        assert "systemctl enable --now hpc-imds-guard.service" in text
        assert "hpc-imds-guard" in boot.packed_scripts(_plain(text))
    for logical, lt in _of_type(template, "AWS::EC2::LaunchTemplate").items():
        if "Environment" in logical:
            assert lt["Properties"]["LaunchTemplateData"]["MetadataOptions"] == {
                "HttpPutResponseHopLimit": 1, "HttpTokens": "required"}, logical


def _plain(text: str) -> str:
    """The literal text of the shell part inside a MIME multi-part user data (an Fn::Base64 of an Fn::Join
    nested in the outer one): what the packed scripts live in."""
    outer = json.loads(text)["Fn::Base64"]["Fn::Join"][1]
    inner = [p["Fn::Base64"]["Fn::Join"][1] for p in outer if isinstance(p, dict) and "Fn::Base64" in p]
    return "".join(part for parts in inner for part in parts if isinstance(part, str))


def test_jobs_know_their_region_without_the_metadata_service(reference_templates: Templates) -> None:
    for definition in _of_type(reference_templates["HpcBatch"], "AWS::Batch::JobDefinition").values():
        props = definition["Properties"]
        containers = ([props["ContainerProperties"]] if "ContainerProperties" in props
                      else [r["Container"] for r in props["NodeProperties"]["NodeRangeProperties"]])
        for container in containers:
            variables = {v["Name"]: v["Value"] for v in container["Environment"]}
            assert variables["AWS_REGION"] == variables["AWS_DEFAULT_REGION"] == {"Ref": "AWS::Region"}
