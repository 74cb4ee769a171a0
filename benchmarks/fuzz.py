#!/usr/bin/env python3
"""Deep fuzz of the public constructs: random input is accepted cleanly or refused with a ConfigError.

    make fuzz                                                         # 1,000 examples per construct
    .venv/bin/python benchmarks/fuzz.py --examples 1000 --out benchmarks/fuzz.md
    .venv/bin/python benchmarks/fuzz.py --examples 20 --constructs HaBastion ComputeFleet
    .venv/bin/python benchmarks/fuzz.py --reproduce ComputeFleet - < recipe.txt    # a recipe fuzz.md lists

For each construct (ComputeFleet, StorageLayer, DataTransferLayer, BatchOrchestration, HaBastion),
hypothesis draws recipes from benchmarks/fuzz_strategies.py and each recipe becomes one new App with
cdk.json's context, one Stack, an HpcNetwork and the construct (sometimes with a fleet, storage or a
bastion beside it). Each example ends one of three ways:

  accepted  the construct was built, the app synthesized with cdk-nag's AwsSolutionsChecks (and CDK's own
            validation) without a finding that is not acknowledged, the stack has no error annotation,
            and cfn-lint finds nothing in the template (errors and warnings, as tests/cfn_lint.py);
  rejected  building it raised hpc_constructs.ConfigError;
  failed    anything else: another exception (while building or at synth), a cdk-nag or validation
            finding, an error annotation, or a cfn-lint finding. The recipe is recorded as a reproducer.

Each construct runs in one process of its own (jsii starts once per construct; one process for all five
would keep every app's objects in jsii's node process, gigabytes by the end), cfn-lint's rules are loaded
once (tests/cfn_lint.py's `findings`), identical templates are linted once, and hypothesis runs
from a fixed seed (--seed) with no database, so a run draws the same examples every time while the
strategies stay the same. The examples are counted here, not taken from max_examples.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# jsii's end-of-life banner for Node 20 is silenced when the value names the major version (as tests/conftest.py).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import hypothesis  # noqa: E402
from aws_cdk import Environment, RemovalPolicy, Stack, Validations  # noqa: E402
from aws_cdk import aws_ec2 as ec2  # noqa: E402
from aws_cdk import aws_s3 as s3  # noqa: E402
from aws_cdk import aws_secretsmanager as secretsmanager  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

import hpc_constructs  # noqa: E402
from benchmarks.fuzz_strategies import STRATEGIES  # noqa: E402
from hpc_constructs import (  # noqa: E402
    BatchOrchestration,
    ComputeFleet,
    ConfigError,
    DataSyncLocation,
    DataSyncTaskSpec,
    DataTransferLayer,
    EfsSpec,
    HaBastion,
    HpcNetwork,
    LustreDataRepository,
    LustreSpec,
    StorageLayer,
)
from tests.cfn_lint import findings  # noqa: E402
from tests.support import new_app  # noqa: E402

STACK = "Fuzz"
ENV = Environment(account="111122223333", region="us-east-1")
CONSTRUCTS = tuple(STRATEGIES)
REPRODUCERS_SHOWN = 5
SEED = 14  # hypothesis's seed: issue 14, fixed before any run (a run draws what this seed draws)
# Slow examples and large recipes are the point here; no filter is used, so filter_too_much never fires.
SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
              HealthCheck.filter_too_much]

# -- cfn-lint, in-process, rules loaded once --------------------------------------------------------------------


class Linter:
    """tests/cfn_lint.py's `findings` (its rules loaded once a process), each distinct template linted once."""

    CACHED = 4_096  # templates whose findings are kept: recipes that differ only where the template does not
    # show it (a mode, a value the construct ignores) synthesize the same template, linted once

    def __init__(self) -> None:
        self._seen: collections.OrderedDict[str, list[str]] = collections.OrderedDict()

    def findings(self, template: dict[str, Any], *, warnings: bool = True) -> list[str]:
        key = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
        if key not in self._seen:
            self._seen[key] = findings(template)
            if len(self._seen) > self.CACHED:
                self._seen.popitem(last=False)
        return [f for f in self._seen[key] if warnings or f[0] != "W"]


# -- builders: a recipe (fuzz_strategies.py) into constructs in one stack -------------------------------------------


def _network(stack: Stack, recipe: dict[str, Any]) -> HpcNetwork:
    """HpcNetwork's own VPC, or (dual_stack) a dual-stack VPC of the same layout that HpcNetwork wraps."""
    network = recipe["network"]
    if not network["dual_stack"]:
        return HpcNetwork(stack, "Net", max_azs=network["max_azs"], nat_gateways=network["nat_gateways"])
    vpc = ec2.Vpc(stack, "Vpc", ip_protocol=ec2.IpProtocol.DUAL_STACK, max_azs=network["max_azs"],
                  nat_gateways=network["nat_gateways"], restrict_default_security_group=True,
                  subnet_configuration=[
                      ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                      ec2.SubnetConfiguration(name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                                              cidr_mask=18)])
    return HpcNetwork(stack, "Net", vpc=vpc, flow_logs=True, s3_endpoint=True)


def _second_subnet(network: HpcNetwork) -> ec2.ISubnet:
    return network.vpc.private_subnets[1]


def _fleet(stack: Stack, network: HpcNetwork, kind: str) -> ComputeFleet:
    """A valid helper fleet: "efa" (c5n.18xlarge in the cluster subnet) or "cpu" (c7i.4xlarge, two AZs)."""
    existing = stack.node.try_find_child(f"{kind.capitalize()}Fleet")
    if isinstance(existing, ComputeFleet):
        return existing
    if kind == "efa":
        return ComputeFleet(stack, "EfaFleet", vpc=network.vpc, subnet=network.cluster_subnet,
                            instance_types=["c5n.18xlarge"], max_capacity=4)
    return ComputeFleet(stack, "CpuFleet", vpc=network.vpc, instance_types=["c7i.4xlarge"],
                        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
                        max_capacity=2)


def _imported_bucket(stack: Stack) -> s3.IBucket:
    existing = stack.node.try_find_child("SourceBucket")
    return existing if existing is not None else s3.Bucket.from_bucket_name(  # type: ignore[return-value]
        stack, "SourceBucket", "hpc-fuzz-source")


def build_compute_fleet(stack: Stack, r: dict[str, Any]) -> None:
    network = _network(stack, r)
    placement: dict[str, Any] = {}
    private = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
    if r["subnet"] in ("cluster", "both"):
        placement["subnet"] = network.cluster_subnet
    if r["subnet"] in ("private", "both"):
        placement["vpc_subnets"] = private
    if r["subnet"] == "public":
        placement["vpc_subnets"] = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)
    image = (ec2.MachineImage.from_ssm_parameter("/hpc/fuzz/image", os=ec2.OperatingSystemType.LINUX)
             if r["machine_image"] == "custom" else None)
    ComputeFleet(stack, "Fleet", vpc=network.vpc, instance_types=r["instance_types"], efa=r["efa"],
                 placement_group=r["placement_group"], spot=r["spot"], min_capacity=r["min_capacity"],
                 max_capacity=r["max_capacity"], desired_capacity=r["desired_capacity"], machine_image=image,
                 root_device_name=r["root_device_name"], root_volume_size_gib=r["root_volume_size_gib"],
                 install_efa_software=r["install_efa_software"], efa_installer_version=r["efa_installer_version"],
                 efa_installer_key_fingerprint=r["efa_installer_key_fingerprint"], **placement)


def build_storage_layer(stack: Stack, r: dict[str, Any]) -> None:
    network = _network(stack, r)
    subnet = {"default": None, "cluster": network.cluster_subnet, "second": _second_subnet(network)}[r["subnet"]]
    storage = StorageLayer(stack, "Storage", vpc=network.vpc, ebs_volumes=r["ebs_volumes"], lustre=r["lustre"],
                           efs=r["efs"], bucket=r["bucket"], subnet=subnet,
                           removal_policy=RemovalPolicy[r["removal_policy"]])
    for kind in r["mount_on"]:
        storage.mount_on(_fleet(stack, network, kind))


def _storage_for_transfer(stack: Stack, network: HpcNetwork, kind: str | None) -> StorageLayer | None:
    if kind is None:
        return None
    if kind == "bucket":
        return StorageLayer(stack, "Storage", vpc=network.vpc, bucket=True)
    if kind == "no-bucket":
        return StorageLayer(stack, "Storage", vpc=network.vpc, efs=EfsSpec())
    return StorageLayer(stack, "Storage", vpc=network.vpc, bucket=True, efs=EfsSpec(), lustre=LustreSpec(
        2_400, "PERSISTENT_2", 250, data_repositories=(LustreDataRepository("/data"),)))


def _location(stack: Stack, storage: StorageLayer | None, r: dict[str, Any]) -> DataSyncLocation:
    kind = r["kind"]
    if kind == "s3":
        return DataSyncLocation.s3(None if r["bucket"] == "landing" else _imported_bucket(stack), r["subdirectory"])
    if kind == "nfs":
        return DataSyncLocation.nfs(r["server_hostname"], r["subdirectory"], r["agent_arns"])
    if kind == "smb":
        secret: Any = r["password_secret"]
        if secret == "secret":
            existing = stack.node.try_find_child("SmbSecret")
            secret = existing if existing is not None else secretsmanager.Secret.from_secret_name_v2(
                stack, "SmbSecret", "smb-credentials")
        return DataSyncLocation.smb(r["server_hostname"], r["subdirectory"], r["user"], r["domain"], secret,
                                    r["agent_arns"], password_field=r["password_field"])
    if kind == "efs":
        return DataSyncLocation.efs(storage, r["subdirectory"])
    return DataSyncLocation.fsx_lustre(storage, r["subdirectory"])


def build_data_transfer_layer(stack: Stack, r: dict[str, Any]) -> None:
    network = _network(stack, r)
    storage = _storage_for_transfer(stack, network, r["storage"])
    landing: Any = r["landing_bucket"]
    if landing == "spec":
        landing = hpc_constructs.BucketSpec()
    elif landing == "imported":
        landing = _imported_bucket(stack)
    tasks = [DataSyncTaskSpec(_location(stack, storage, t["source"]), _location(stack, storage, t["destination"]),
                              name=t["name"], schedule=t["schedule"], verify_mode=t["verify_mode"],
                              includes=t["includes"], excludes=t["excludes"],
                              log_retention_days=t["log_retention_days"], task_mode=t["task_mode"],
                              log_level=t["log_level"])
             for t in r["datasync_tasks"]]
    DataTransferLayer(stack, "DataTransfer", vpc=network.vpc, storage=storage, landing_bucket=landing,
                      datasync_tasks=tasks, direct_connect=r["direct_connect"], snowball_import=r["snowball_import"],
                      removal_policy=RemovalPolicy[r["removal_policy"]])


def build_batch_orchestration(stack: Stack, r: dict[str, Any]) -> None:
    network = _network(stack, r)
    environments = []
    for e in r["compute_environments"]:
        spec = e["spec"]
        if e["fleet"] is not None:
            spec = replace(spec, fleet=_fleet(stack, network, e["fleet"]))
        if e["subnet"] is not None:
            spec = replace(spec, subnet=network.cluster_subnet if e["subnet"] == "cluster" else _second_subnet(network))
        environments.append(spec)
    storage = None
    if r["storage"] == "efs":
        storage = StorageLayer(stack, "Storage", vpc=network.vpc, efs=EfsSpec())
    elif r["storage"] == "lustre":
        storage = StorageLayer(stack, "Storage", vpc=network.vpc, lustre=LustreSpec(1_200, "SCRATCH_2"))
    BatchOrchestration(stack, "Batch", vpc=network.vpc, compute_environments=environments,
                       job_queues=r["job_queues"], multi_node_jobs=r["multi_node_jobs"],
                       container_jobs=r["container_jobs"], storage=storage, job_events=r["job_events"],
                       log_retention_days=r["log_retention_days"])


def build_ha_bastion(stack: Stack, r: dict[str, Any]) -> None:
    network = _network(stack, r)
    bastion = HaBastion(stack, "Bastion", vpc=network.vpc, allowed_cidrs=r["allowed_cidrs"],
                        blocked_cidrs=r["blocked_cidrs"],
                        instance_type=r["instance_type"], availability_zones=r["availability_zones"],
                        key_name=r["key_name"], allow_open_ssh=r["allow_open_ssh"],
                        ssh_log_retention_days=r["ssh_log_retention_days"], acl_rule_quota=r["acl_rule_quota"])
    if r["ssh_to_fleet"]:
        _fleet(stack, network, "cpu").allow_ssh_from(bastion)


BUILDERS: dict[str, Callable[[Stack, dict[str, Any]], None]] = {
    "ComputeFleet": build_compute_fleet,
    "StorageLayer": build_storage_layer,
    "DataTransferLayer": build_data_transfer_layer,
    "BatchOrchestration": build_batch_orchestration,
    "HaBastion": build_ha_bastion,
}

# -- one example ----------------------------------------------------------------------------------------------------

_LOGICAL_ID = re.compile(r"^Resources/[^/]+/")


@dataclass(frozen=True)
class Outcome:
    """How one example ended: "accepted", "rejected" or "failed", with why (a short key) and the details."""

    kind: str
    reason: str = ""
    detail: str = ""
    notes: tuple[str, ...] = ()


def _exception_detail(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    where = next((f for f in reversed(frames) if "hpc_constructs" in f.filename), frames[-1] if frames else None)
    place = f" at {Path(where.filename).name}:{where.lineno} ({where.name})" if where else ""
    return f"{type(error).__name__}: {str(error)[:600]}{place}"


def _raised_here(error: BaseException) -> bool:
    """True when the exception comes from this file's own code, not from a call into the library or CDK."""
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve() == Path(__file__).resolve()


def _validation_findings(outdir: str) -> list[str]:
    """The failed rules of CDK's validation report (cdk-nag and CDK's own validator): plugin rule severity path."""
    report = Path(outdir) / "validation-report.json"
    if not report.exists():
        return []
    out = []
    for plugin in json.loads(report.read_text()).get("pluginReports", []):
        if plugin.get("conclusion") != "failure":  # warning annotations are listed, but do not fail the synth
            continue
        for violation in plugin.get("violations", []):
            paths = ", ".join(c.get("constructPath", "?") for c in violation.get("violatingConstructs", []))
            out.append(f"{plugin.get('pluginName')} {violation.get('ruleName')} ({violation.get('severity')}): "
                       f"{violation.get('description', '')[:200]} [{paths}]")
    return out


def _lint_key(finding: str) -> str:
    """A cfn-lint line without the logical ID, so that one problem in many examples groups as one."""
    rule, _, rest = finding.partition(" ")
    where = rest.split(":", 1)[0]
    return f"cfn-lint {rule} {_LOGICAL_ID.sub('Resources/*/', where)}"


def _stack_template(outdir: str) -> dict[str, Any] | None:
    path = Path(outdir) / f"{STACK}.template.json"
    return json.loads(path.read_text()) if path.exists() else None


def run_example(name: str, recipe: dict[str, Any], linter: Linter) -> Outcome:
    """Build the construct of `name` from `recipe` in a fresh app, synthesize it with cdk-nag, lint the template."""
    with tempfile.TemporaryDirectory(prefix="hpc-fuzz-") as outdir:
        app = new_app(outdir=outdir)
        stack = Stack(app, STACK, env=ENV if recipe["network"]["env"] else None)
        try:
            BUILDERS[name](stack, recipe)
        except ConfigError as error:
            notes = () if error.path.startswith(f"{STACK}/") and error.path != f"{STACK}/Net" else (
                f"ConfigError path {error.path!r} is not the construct's",)
            return Outcome("rejected", error.prop, str(error)[:300], notes)
        except Exception as error:  # any other exception on bad input is a library bug
            if _raised_here(error):
                raise  # the fuzz's own bug (a builder), not the library's: stop the run
            return Outcome("failed", f"{type(error).__name__} while building", _exception_detail(error))
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
        try:
            assembly = app.synth()
        except Exception as error:
            found = _validation_findings(outdir)
            template = _stack_template(outdir)
            lint = linter.findings(template) if template is not None else []
            if found:
                rules = sorted({f.split(" (")[0] for f in found})
                return Outcome("failed", f"validation: {', '.join(rules)}", "\n".join(found + lint)[:2_000])
            if "is not allowed. Allowed:" in str(error):
                return Outcome("failed", "ConfigError text in a synth-time validation (not a ConfigError)",
                               _exception_detail(error))
            return Outcome("failed", f"{type(error).__name__} at synth", _exception_detail(error))
        artifact = assembly.get_stack_by_name(STACK)
        errors = [str(m.entry.data) for m in artifact.messages if str(m.level).endswith("ERROR")]
        if errors:
            return Outcome("failed", "error annotation", "\n".join(errors)[:2_000])
        lint = linter.findings(artifact.template)
        if lint:
            return Outcome("failed", "; ".join(sorted({_lint_key(f) for f in lint})), "\n".join(lint)[:2_000])
        return Outcome("accepted")


# -- one construct ------------------------------------------------------------------------------------------------


@dataclass
class Failure:
    recipe: str  # repr of the recipe: the reproducer's argument
    reason: str
    detail: str


@dataclass
class ConstructReport:
    name: str
    asked: int
    accepted: int = 0
    rejected: int = 0
    failures: list[Failure] = field(default_factory=list)
    failure_reasons: collections.Counter[str] = field(default_factory=collections.Counter)
    rejected_by: collections.Counter[str] = field(default_factory=collections.Counter)
    notes: collections.Counter[str] = field(default_factory=collections.Counter)
    by_mode: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)  # (mode, kind)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return sum(self.failure_reasons.values())

    @property
    def examples(self) -> int:
        return self.accepted + self.rejected + self.failed

    def to_json(self) -> str:
        return json.dumps({
            "name": self.name, "asked": self.asked, "accepted": self.accepted, "rejected": self.rejected,
            "failures": [vars(f) for f in self.failures], "failure_reasons": self.failure_reasons,
            "rejected_by": self.rejected_by, "notes": self.notes, "seconds": self.seconds,
            "by_mode": [[mode, kind, n] for (mode, kind), n in self.by_mode.items()],
        })

    @classmethod
    def from_json(cls, text: str) -> ConstructReport:
        data = json.loads(text)
        return cls(data["name"], data["asked"], data["accepted"], data["rejected"],
                   [Failure(**f) for f in data["failures"]], collections.Counter(data["failure_reasons"]),
                   collections.Counter(data["rejected_by"]), collections.Counter(data["notes"]),
                   collections.Counter({(mode, kind): n for mode, kind, n in data["by_mode"]}), data["seconds"])

    def add(self, recipe: dict[str, Any], outcome: Outcome) -> None:
        self.notes.update(outcome.notes)
        self.by_mode[(recipe.get("mode", "?"), outcome.kind)] += 1
        if outcome.kind == "accepted":
            self.accepted += 1
        elif outcome.kind == "rejected":
            self.rejected += 1
            self.rejected_by[outcome.reason] += 1
        else:
            self.failure_reasons[outcome.reason] += 1
            self.failures.append(Failure(repr(recipe), outcome.reason, outcome.detail))


def fuzz(name: str, examples: int, *, seed: int = SEED, linter: Linter | None = None,
         progress: Callable[[ConstructReport], None] | None = None) -> ConstructReport:
    """Run `examples` hypothesis examples of one construct. The same seed draws the same examples while the
    strategies stay the same (derandomize=True would seed from this function's source text instead)."""
    linter = linter or Linter()
    report = ConstructReport(name, examples)
    start = time.perf_counter()

    @hypothesis.seed(seed)
    @settings(max_examples=examples, database=None, deadline=None, print_blob=False,
              suppress_health_check=SUPPRESSED, phases=[Phase.generate])
    @given(recipe=STRATEGIES[name])
    def run(recipe: dict[str, Any]) -> None:
        report.add(recipe, run_example(name, recipe, linter))
        report.seconds = time.perf_counter() - start
        if progress is not None:
            progress(report)

    run()
    report.seconds = time.perf_counter() - start
    return report


def fuzz_in_subprocess(name: str, examples: int, seed: int = SEED) -> ConstructReport:
    """fuzz() in a fresh interpreter: jsii's node process keeps every object an app made (about half a
    megabyte an example), so 5,000 examples in one process would grow it by gigabytes; one process per
    construct costs a jsii start-up each instead."""
    with tempfile.TemporaryDirectory(prefix="hpc-fuzz-report-") as directory:
        out = Path(directory) / "report.json"
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", name, "--examples", str(examples),
                        "--seed", str(seed), "--report", str(out)], check=True)
        return ConstructReport.from_json(out.read_text())


def _progress(r: ConstructReport) -> None:
    if r.examples % 100 == 0:
        print(f"  {r.name}: {r.examples:,} examples, {r.accepted:,} accepted, {r.rejected:,} rejected, "
              f"{r.failed:,} failed, {r.seconds:.0f} s", flush=True)


def reproduce(name: str, recipe_text: str) -> Outcome:
    """Run one recorded example again: `recipe_text` is the repr fuzz.md lists (it names hpc_constructs' specs)."""
    namespace = {n: getattr(hpc_constructs, n) for n in hpc_constructs.__all__}
    text = sys.stdin.read() if recipe_text == "-" else recipe_text
    recipe = eval(text, namespace)  # a recipe this script printed, run by its own user
    return run_example(name, recipe, Linter())


# -- the written result -------------------------------------------------------------------------------------------


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def _versions() -> str:
    from importlib.metadata import version

    return ", ".join(f"{p} {version(p)}" for p in ("aws-cdk-lib", "cdk-nag", "cfn-lint", "hypothesis"))


def _fenced(text: str) -> str:
    return "```\n" + text.replace("```", "` ` `") + "\n```"


def _commit() -> str:
    """HEAD, and whether tracked files differ from it (the library under test is the working tree)."""
    dirty = " with uncommitted changes to tracked files" if _git("status", "--porcelain", "--untracked-files=no") \
        else ""
    return _git("rev-parse", "--short", "HEAD") + dirty


def markdown(reports: Sequence[ConstructReport], *, command: str, examples: int, total_seconds: float,
             commit: str, seed: int) -> str:
    after = _commit()
    moved = "" if after == commit else f" (at the end: {after}; the working tree changed during the run)"
    lines = [
        "# Fuzz: the public constructs under random input",
        "",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- Commit: {commit}{moved}",
        f"- Command: `{command}`",
        f"- Examples asked per construct: {examples:,} (the counts below are the examples that ran), "
        f"hypothesis seed {seed}",
        f"- Machine: {os.cpu_count()} cores, Python {platform.python_version()}, {_versions()}",
        f"- Total wall time: {total_seconds / 60:.1f} min",
        "",
        "Each example is one recipe drawn by benchmarks/fuzz_strategies.py, built in a new App (cdk.json's context) "
        "with an HpcNetwork. **accepted**: it synthesized with cdk-nag's AwsSolutionsChecks and CDK's validation "
        "and no unacknowledged finding (a cdk-nag warning fails the synth like an error), no error annotation, and "
        "cfn-lint (us-east-1, errors and warnings, tests/cfn_lint.py's ignore list) found nothing. **rejected**: "
        "building it raised hpc_constructs.ConfigError. **failed**: anything else.",
        "",
        "| construct | examples | accepted | rejected | failed | wall time (with start-up) | per example |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in reports:
        per = r.seconds / r.examples if r.examples else 0.0
        share = f" ({100 * r.accepted / r.examples:.0f}%)" if r.examples else ""
        lines.append(f"| {r.name} | {r.examples:,} | {r.accepted:,}{share} | {r.rejected:,} | {r.failed:,} | "
                     f"{r.seconds / 60:.1f} min | {per:.2f} s |")
    total = sum(r.examples for r in reports)
    lines += ["", f"Total: {total:,} examples, {sum(r.failed for r in reports):,} failed.", ""]

    lines += ["## Failures", ""]
    if not any(r.failed for r in reports):
        lines += ["None.", ""]
    for r in reports:
        if not r.failed:
            continue
        lines += [f"### {r.name}: {r.failed:,} failed", "", "| count | reason |", "|---:|---|"]
        lines += [f"| {n:,} | {reason.replace('|', '/')} |" for reason, n in r.failure_reasons.most_common()]
        lines += ["", f"First {min(REPRODUCERS_SHOWN, len(r.failures))} reproducers (one per reason first):", ""]
        shown: list[Failure] = []
        for reason in r.failure_reasons:
            shown.append(next(f for f in r.failures if f.reason == reason))
        shown += [f for f in r.failures if f not in shown]
        for f in shown[:REPRODUCERS_SHOWN]:
            lines += [f"- {f.reason}", "", _fenced(f.detail), "",
                      _fenced(f".venv/bin/python benchmarks/fuzz.py --reproduce {r.name} - <<'RECIPE'\n"
                              f"{f.recipe}\nRECIPE"), ""]

    lines += ["## By drawing mode", "",
              "fuzz_strategies.py draws each recipe in a mode: valid (every field from its valid values: only the "
              "rules between fields can refuse it), one-wrong (each field wrong with probability 1/8), any. "
              "Accepted / rejected / failed:", ""]
    for r in reports:
        modes = sorted({mode for mode, _ in r.by_mode})
        lines.append(f"- {r.name}: " + "; ".join(
            f"{mode} {r.by_mode[(mode, 'accepted')]}/{r.by_mode[(mode, 'rejected')]}/{r.by_mode[(mode, 'failed')]}"
            for mode in modes))
    lines += ["", "## What the refusals were", "",
              "The property each ConfigError named, most frequent first (which rules the fuzz reached).", ""]
    for r in reports:
        top = ", ".join(f"{prop} {n}" for prop, n in r.rejected_by.most_common(12))
        lines.append(f"- {r.name} ({len(r.rejected_by)} properties): {top or 'none'}")
    notes = [(r.name, note, n) for r in reports for note, n in r.notes.most_common()]
    if notes:
        lines += ["", "Notes (not failures):", ""]
        lines += [f"- {name}: {note} ({n:,} examples)" for name, note, n in notes]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1_000, help="hypothesis examples per construct")
    parser.add_argument("--out", type=Path, help="write the result as Markdown here (e.g. benchmarks/fuzz.md)")
    parser.add_argument("--constructs", nargs="+", choices=CONSTRUCTS, default=list(CONSTRUCTS))
    parser.add_argument("--seed", type=int, default=SEED, help=f"hypothesis's seed (default {SEED})")
    parser.add_argument("--reproduce", nargs=2, metavar=("CONSTRUCT", "RECIPE"),
                        help="run one recorded example again and print how it ended (RECIPE - reads it from stdin)")
    parser.add_argument("--worker", choices=CONSTRUCTS, help=argparse.SUPPRESS)  # one construct, in this process
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)  # where --worker writes its report
    args = parser.parse_args(argv)

    if args.reproduce:
        outcome = reproduce(*args.reproduce)
        print(f"{outcome.kind}: {outcome.reason}\n{outcome.detail}")
        return 0 if outcome.kind != "failed" else 1
    if args.worker:
        args.report.write_text(fuzz(args.worker, args.examples, seed=args.seed, progress=_progress).to_json())
        return 0

    start = time.perf_counter()
    commit = _commit()
    reports = []
    for name in args.constructs:
        began = time.perf_counter()
        report = fuzz_in_subprocess(name, args.examples, args.seed)
        report.seconds = time.perf_counter() - began  # the wall time, the process's start-up included
        reports.append(report)
        print(f"{name}: {report.examples:,} examples, {report.accepted:,} accepted, {report.rejected:,} rejected, "
              f"{report.failed:,} failed in {report.seconds:.0f} s", flush=True)
        for reason, n in report.failure_reasons.most_common():
            print(f"  failed {n:,}x: {reason}", flush=True)
    total = time.perf_counter() - start
    if args.out:
        command = " ".join(["python", "benchmarks/fuzz.py", *(argv if argv is not None else sys.argv[1:])])
        args.out.write_text(markdown(reports, command=command, examples=args.examples, total_seconds=total,
                                     commit=commit, seed=args.seed))
        print(f"wrote {args.out}")
    return 1 if any(r.failed for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
