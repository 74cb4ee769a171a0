"""hpc-verify's command line: a table for people, --json for machines; exit 0 (all ok), 1 (blocked), 2 (bad input)."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Sequence

from hpc_constructs.verify.assembly import Assembly
from hpc_constructs.verify.check import Checker, Result
from hpc_constructs.verify.errors import AssemblyError

USAGE = """Check every path the constructs of a CDK app declared (who reaches what, on which ports; which role may do
what), from the synthesized templates alone: security groups, the VPC's default group, launch templates, network
ACLs, routes, VPC endpoints, NAT gateways, load balancers, IAM and resource policies.

exit status: 0 every path is ok, 1 a path is blocked, 2 the input is not a cloud assembly (one-line error)"""


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hpc-verify", description=USAGE,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assembly", metavar="CLOUD_ASSEMBLY_DIR", help="what `cdk synth` wrote (cdk.out)")
    lost = parser.add_mutually_exclusive_group()
    lost.add_argument("--lose-az", metavar="AZ",
                      help="check with this AZ's subnets, NAT gateways and instances gone: an index (0 is the first "
                           "AZ; environment-agnostic apps name them az0, az1, ...) or an AZ name")
    lost.add_argument("--each-az", action="store_true",
                      help="check normally, then with each AZ of the assembly lost in turn")
    parser.add_argument("--json", action="store_true",
                        help='print {"paths": [{"path", "status", "reason"}]} (with --each-az, also "each_az")')
    parser.add_argument("-v", "--verbose", action="store_true", help="show how each open path is open, too")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    try:
        checker = Checker(Assembly.load(args.assembly))
        scenarios: list[str | None] = [None]
        if args.lose_az is not None:
            scenarios = [checker.resolve_az(args.lose_az)]
        elif args.each_az:
            scenarios += checker.azs()
        runs = [(az, checker.run(az)) for az in scenarios]
    except AssemblyError as error:
        print(f"hpc-verify: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(as_json(runs), indent=1))
    else:
        print("\n\n".join(table(results, az, verbose=args.verbose) for az, results in runs))
    return 0 if all(r.ok for _, results in runs for r in results) else 1


def as_json(runs: list[tuple[str | None, list[Result]]]) -> dict[str, object]:
    first_az, first = runs[0]
    out: dict[str, object] = {"paths": [r.as_json() for r in first]}
    if first_az is not None:
        out["lost_az"] = first_az
    if len(runs) > 1:
        out["each_az"] = [{"lost_az": az, "paths": [r.as_json() for r in results]} for az, results in runs[1:]]
    return out


def table(results: list[Result], lost_az: str | None, *, verbose: bool = False, width: int = 118) -> str:
    blocked = sum(not r.ok for r in results)
    title = "every AZ up" if lost_az is None else f"AZ {lost_az} lost"
    lines = [f"hpc-verify, {title}: {len(results)} paths, {len(results) - blocked} ok, {blocked} blocked"]
    for result in sorted(results, key=lambda r: (r.ok, r.path)):
        lines.append(f"  {result.status:<8} {result.path}")
        if not result.ok or verbose:
            lines += textwrap.wrap(result.reason, width=width, initial_indent="           ",
                                   subsequent_indent="             ")
    return "\n".join(lines)
