#!/usr/bin/env python3
"""Rebuild hpc_constructs/catalog/instance_types.json from EC2 DescribeInstanceTypes data.

Source, in order of preference:
  --source live  the EC2 DescribeInstanceTypes API (needs AWS credentials; region from --region)
  --source moto  the DescribeInstanceTypes snapshot that the pinned `moto` package ships in
                 moto/ec2/resources/instance_types.json.gz (1,395 types in moto 5.2.5)
  --source auto  (default) live when credentials exist, else moto

The output is compact JSON: a header with the source and date, the field names, and one row a type.
Run `make catalog` after bumping moto, then review the diff like a snapshot.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "hpc_constructs" / "catalog" / "instance_types.json"

FIELDS = [
    "vcpus",
    "memory_mib",
    "architectures",
    "gpus",
    "gpu_manufacturer",
    "gpu_name",
    "gpu_memory_mib",
    "efa_supported",
    "maximum_efa_interfaces",
    "ena_support",
    "network_cards",  # [[index, [interface types], baseline Gbps, peak Gbps, max interfaces], ...]
    "maximum_network_interfaces",
    "network_performance",
    "instance_store_disks",  # [[count, size GB, type], ...]
    "instance_store_nvme",
    "placement_strategies",
    "current_generation",
    "burstable",
    "bare_metal",
    "usage_classes",
    "hypervisor",  # "nitro" or "xen"; "" for bare metal (which runs on the Nitro system without a hypervisor)
    "ebs_nvme_support",  # EbsInfo.NvmeSupport: "required" means EBS volumes appear as NVMe devices
]


def _row(t: dict[str, Any]) -> list[Any]:
    net = t["NetworkInfo"]
    gpus = t.get("GpuInfo", {}).get("Gpus", [])
    store = t.get("InstanceStorageInfo", {})
    cards = [
        [
            c["NetworkCardIndex"],
            c.get("InterfaceTypes", ["interface"]),
            c.get("BaselineBandwidthInGbps", 0.0),
            c.get("PeakBandwidthInGbps", c.get("BaselineBandwidthInGbps", 0.0)),
            c.get("MaximumNetworkInterfaces", 1),
        ]
        for c in sorted(net["NetworkCards"], key=lambda c: c["NetworkCardIndex"])
    ]
    return [
        t["VCpuInfo"]["DefaultVCpus"],
        t["MemoryInfo"]["SizeInMiB"],
        t["ProcessorInfo"]["SupportedArchitectures"],
        sum(g.get("Count", 0) for g in gpus),
        gpus[0].get("Manufacturer", "") if gpus else "",
        gpus[0].get("Name", "") if gpus else "",
        t.get("GpuInfo", {}).get("TotalGpuMemoryInMiB", 0),
        bool(net.get("EfaSupported", False)),
        net.get("EfaInfo", {}).get("MaximumEfaInterfaces", 0),
        net.get("EnaSupport", "unsupported"),
        cards,
        net.get("MaximumNetworkInterfaces", 1),
        net.get("NetworkPerformance", ""),
        [[d["Count"], d["SizeInGB"], d["Type"]] for d in store.get("Disks", [])],
        store.get("NvmeSupport", "unsupported"),
        t.get("PlacementGroupInfo", {}).get("SupportedStrategies", []),
        bool(t.get("CurrentGeneration", False)),
        bool(t.get("BurstablePerformanceSupported", False)),
        bool(t.get("BareMetal", False)),
        t.get("SupportedUsageClasses", []),
        t.get("Hypervisor", ""),
        t.get("EbsInfo", {}).get("NvmeSupport", "unsupported"),
    ]


def _from_moto() -> tuple[dict[str, dict[str, Any]], str]:
    import moto  # the dev requirement pins its version, so the dataset is reproducible

    path = Path(moto.__file__).parent / "ec2" / "resources" / "instance_types.json.gz"
    with gzip.open(path, "rt") as f:
        data: dict[str, dict[str, Any]] = json.load(f)
    version = moto.__version__
    return data, f"moto {version}: moto/ec2/resources/instance_types.json.gz (EC2 DescribeInstanceTypes snapshot)"


def _from_live(region: str) -> tuple[dict[str, dict[str, Any]], str]:
    import boto3

    ec2 = boto3.client("ec2", region_name=region)
    data: dict[str, dict[str, Any]] = {}
    for page in ec2.get_paginator("describe_instance_types").paginate():
        for t in page["InstanceTypes"]:
            data[t["InstanceType"]] = t
    return data, f"EC2 DescribeInstanceTypes API, {region}"


def _has_credentials() -> bool:
    try:
        import boto3
    except ImportError:
        return False
    return boto3.Session().get_credentials() is not None


def _compact(doc: dict[str, Any]) -> str:
    """Compact JSON with one instance type a line, so that a refresh reads as a reviewable diff."""
    compact = {"separators": (",", ":")}
    head = ",\n".join(f"{json.dumps(k)}:{json.dumps(v, **compact)}" for k, v in doc.items() if k != "types")  # type: ignore[arg-type]
    rows = ",\n".join(f"{json.dumps(k)}:{json.dumps(v, **compact)}" for k, v in doc["types"].items())  # type: ignore[arg-type]
    return "{" + head + ',\n"types":{\n' + rows + "\n}}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", choices=["auto", "live", "moto"], default="auto")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    source = args.source
    if source == "auto":
        source = "live" if _has_credentials() else "moto"
    data, description = _from_live(args.region) if source == "live" else _from_moto()
    doc = {
        "source": description,
        "retrieved": dt.date.today().isoformat(),
        "fields": FIELDS,
        "types": {name: _row(data[name]) for name in sorted(data)},
    }
    args.out.write_text(_compact(doc))
    print(f"wrote {len(data)} instance types from {description} to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
