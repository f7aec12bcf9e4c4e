"""The monthly cost estimate of a plan: what its resources cost at idle, minimum and maximum scale.

Pure: `estimate_cost` reads the plan's resources (plan.json's `resources`) and the price catalog and returns
plan.json's `cost` section (the shape is a contract with the diff; see docs/cost.md). Scales:
- idle: every node group at its minSize (GPU groups that may scale to zero cost nothing);
- min: node groups at the nodes the served models' minimum replicas need (at least minSize);
- max: every node group at its maxSize.
GCP VMs and everything else run around the clock at every scale. Traffic-dependent charges (NAT and load balancer
data processing, LCUs, requests, logs, egress) are excluded; each line's item says what it counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from catalogs.aws_gpu_instances import GPU_INSTANCES
from catalogs.cloud_prices import (
    AWS_REGION_MULTIPLIERS,
    CLOUD_NAT_VM,
    EBS_GP3,
    EC2_ON_DEMAND_HOURLY,
    EC2_ON_DEMAND_SOURCE,
    EC2_SPOT_DISCOUNT,
    EC2_SPOT_SOURCE,
    EKS_CONTROL_PLANE,
    GCE_DISK_SOURCE,
    GCE_GPU_SOURCE,
    GCE_SPOT_DISCOUNT,
    GCE_VM_SOURCE,
    GCP_REGION_MULTIPLIERS,
    GPU_HOURLY,
    HOURS_PER_MONTH,
    KMS_KEY,
    NAT_GATEWAY,
    NETWORK_LOAD_BALANCER,
    PERSISTENT_DISK_GB_MONTH,
    PRICE_DATE,
    PUBLIC_IPV4,
    ec2_family,
    gce_machine_hourly,
)
from catalogs.gcp_machines import G2_L4_GPUS

SCALES = ("idle", "min", "max")
Resource = Mapping[str, Any]


@dataclass(frozen=True)
class Scaled:
    idle: float
    min: float
    max: float

    @classmethod
    def same(cls, value: float) -> Scaled:
        return cls(value, value, value)

    def times(self, factor: float) -> Scaled:
        return Scaled(self.idle * factor, self.min * factor, self.max * factor)

    def as_dict(self, digits: int) -> dict[str, float]:
        return {scale: round(getattr(self, scale), digits) for scale in SCALES}


def line(resource: Resource, component: str, item: str, quantity: Scaled, unit: str, unit_price: float, source: str) -> dict[str, Any]:
    return {
        "urn": resource["urn"],
        "component": component,
        "item": item,
        "quantity": quantity.as_dict(4),
        "unit": unit,
        "unitPrice": round(unit_price, 6),
        "source": source,
        "date": PRICE_DATE,
        "monthly": quantity.times(unit_price).as_dict(2),
    }


def node_group_floor(models: Iterable[tuple[str, int, int]], gpus_per_node: Mapping[str, int]) -> dict[str, int]:
    """Nodes each GPU group needs for the models' minimum replicas: (node group, replicas.min, GPUs per replica)."""
    gpus: dict[str, int] = {}
    for group, replicas, gpus_per_replica in models:
        gpus[group] = gpus.get(group, 0) + replicas * gpus_per_replica
    return {group: math.ceil(total / gpus_per_node[group]) for group, total in gpus.items() if gpus_per_node.get(group)}


def _top_component(resource: Resource, by_urn: Mapping[str, Resource]) -> str:
    top = resource
    while top.get("parent") in by_urn and by_urn[top["parent"]]["type"] != "pulumi:pulumi:Stack":
        top = by_urn[top["parent"]]
    return f"{top['type']} {top['name']}"


def _ec2_hourly(instance_type: str, capacity_type: str, multiplier: float) -> tuple[float, str]:
    on_demand = EC2_ON_DEMAND_HOURLY[instance_type] * multiplier
    if capacity_type == "SPOT":
        return on_demand * (1 - EC2_SPOT_DISCOUNT[ec2_family(instance_type)]), EC2_SPOT_SOURCE
    return on_demand, EC2_ON_DEMAND_SOURCE


def _node_group_lines(
    group: Resource, component: str, templates: Mapping[str, Resource], floor: Mapping[str, int], multiplier: float
) -> list[dict[str, Any]]:
    inputs = group["inputs"]
    scaling = inputs["scalingConfig"]
    name = group["name"].removeprefix("nodes-")
    nodes = Scaled(scaling["minSize"], min(max(floor.get(name, 0), scaling["minSize"]), scaling["maxSize"]), scaling["maxSize"])
    capacity = inputs.get("capacityType", "ON_DEMAND")
    # The autoscaler may start any listed type: price the dearest, so the estimate errs high.
    types = inputs["instanceTypes"]
    priced = max(types, key=lambda t: EC2_ON_DEMAND_HOURLY[t])
    hourly, source = _ec2_hourly(priced, capacity, multiplier)
    label = "spot (estimate: " + f"{EC2_SPOT_DISCOUNT[ec2_family(priced)]:.0%} off on-demand)" if capacity == "SPOT" else "on-demand"
    of = f", dearest of {', '.join(types)}" if len(types) > 1 else ""
    lines = [line(group, component, f"{priced} {label} instance-hours{of}", nodes.times(HOURS_PER_MONTH), "instance-hour", hourly, source)]
    template = templates.get(group["name"])
    if template is not None:
        gib = sum(m["ebs"]["volumeSize"] for m in template["inputs"].get("blockDeviceMappings", []) if "ebs" in m)
        lines.append(line(template, component, "gp3 node volumes", nodes.times(gib), "GB-month", EBS_GP3.usd * multiplier, EBS_GP3.source))
    return lines


def _gce_vm_lines(resource: Resource, component: str, spec: Mapping[str, Any], count: int, multiplier: float) -> list[dict[str, Any]]:
    machine_type = spec["machineType"]
    spot = (spec.get("scheduling") or {}).get("provisioningModel") == "SPOT"
    series = machine_type.split("-")[0]
    discount = GCE_SPOT_DISCOUNT[series] if spot else 0.0
    label = f"spot (estimate: {discount:.0%} off on-demand)" if spot else "on-demand"
    machine = gce_machine_hourly(machine_type)
    if machine is None:
        raise ValueError(f"no price for GCE machine type {machine_type}")
    hours = Scaled.same(count * HOURS_PER_MONTH)
    lines = [
        line(
            resource, component, f"{machine_type} {label} VM-hours", hours, "VM-hour", machine * multiplier * (1 - discount), GCE_VM_SOURCE
        )
    ]
    if machine_type in G2_L4_GPUS:
        gpu_type, gpus = "nvidia-l4", G2_L4_GPUS[machine_type]
    else:
        accelerators = spec.get("guestAccelerators") or [{}]
        gpu_type, gpus = accelerators[0].get("type", ""), int(accelerators[0].get("count", 0))
    if gpus:
        lines.append(
            line(
                resource,
                component,
                f"{gpus} x {gpu_type} {label} GPU-hours",
                hours.times(gpus),
                "GPU-hour",
                GPU_HOURLY[gpu_type] * multiplier * (1 - discount),
                GCE_GPU_SOURCE,
            )
        )
    return lines


def _disk_line(
    resource: Resource, component: str, item: str, size_gb: float, disk_type: str, count: int, multiplier: float
) -> dict[str, Any]:
    price = PERSISTENT_DISK_GB_MONTH[disk_type] * multiplier
    return line(resource, component, f"{item} ({disk_type})", Scaled.same(size_gb * count), "GB-month", price, GCE_DISK_SOURCE)


def estimate_cost(resources: Sequence[Resource], aws_region: str, gcp_region: str | None, node_floor: Mapping[str, int]) -> dict[str, Any]:
    """plan.json's `cost` section for these plan resources. `node_floor`: GPU group name -> nodes at min scale."""
    aws = AWS_REGION_MULTIPLIERS[aws_region]
    gcp = GCP_REGION_MULTIPLIERS[gcp_region] if gcp_region is not None else 1.0
    by_urn = {r["urn"]: r for r in resources}
    templates = {r["name"]: r for r in resources if r["type"] == "aws:ec2/launchTemplate:LaunchTemplate"}
    group_managers = [r for r in resources if r["type"] == "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"]
    vms = sum(1 for r in resources if r["type"] == "gcp:compute/instance:Instance") + sum(
        r["inputs"].get("targetSize", 0) for r in group_managers
    )
    month = Scaled.same(HOURS_PER_MONTH)

    def hourly(item: str, price: Any, count: float = 1) -> Callable[[Resource, str], list[dict[str, Any]]]:
        return lambda r, c: [line(r, c, item, month.times(count), price.unit, price.usd * aws, price.source)]

    rules: dict[str, Callable[[Resource, str], list[dict[str, Any]]]] = {
        "eks:index:Cluster": hourly("EKS control plane (standard support)", EKS_CONTROL_PLANE),
        "aws:ec2/natGateway:NatGateway": hourly("NAT gateway hours (data processing excluded)", NAT_GATEWAY),
        "aws:ec2/eip:Eip": hourly("public IPv4 address", PUBLIC_IPV4),
        # The Envoy Gateway's Service becomes one Network Load Balancer (AWS Load Balancer Controller).
        "kubernetes:gateway.networking.k8s.io/v1:Gateway": hourly("Network Load Balancer hours (NLCUs excluded)", NETWORK_LOAD_BALANCER),
        "aws:kms/key:Key": lambda r, c: [
            line(r, c, "KMS key (requests excluded)", Scaled.same(1), KMS_KEY.unit, KMS_KEY.usd * aws, KMS_KEY.source)
        ],
        "aws:eks/nodeGroup:NodeGroup": lambda r, c: _node_group_lines(r, c, templates, node_floor, aws),
        "gcp:compute/instance:Instance": lambda r, c: [
            *_gce_vm_lines(r, c, r["inputs"], 1, gcp),
            _disk_line(
                r,
                c,
                "boot disk",
                r["inputs"]["bootDisk"]["initializeParams"]["size"],
                r["inputs"]["bootDisk"]["initializeParams"]["type"],
                1,
                gcp,
            ),
        ],
        "gcp:compute/disk:Disk": lambda r, c: [_disk_line(r, c, "persistent disk", r["inputs"]["size"], r["inputs"]["type"], 1, gcp)],
        "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": lambda r, c: _managed_group_lines(r, c, resources, gcp),
        "gcp:compute/routerNat:RouterNat": lambda r, c: [
            line(
                r,
                c,
                "Cloud NAT VM-hours (data processing excluded)",
                month.times(min(vms, 32)),
                CLOUD_NAT_VM.unit,
                CLOUD_NAT_VM.usd * gcp,
                CLOUD_NAT_VM.source,
            )
        ],
    }
    lines = [ln for r in resources if r["type"] in rules for ln in rules[r["type"]](r, _top_component(r, by_urn))]
    totals = {scale: round(sum(ln["monthly"][scale] for ln in lines), 2) for scale in SCALES}
    return {
        "currency": "USD",
        "priceDate": PRICE_DATE,
        "region": aws_region,
        "estimate": True,
        "hoursPerMonth": HOURS_PER_MONTH,
        "totals": totals,
        "lines": lines,
    }


def _managed_group_lines(manager: Resource, component: str, resources: Sequence[Resource], multiplier: float) -> list[dict[str, Any]]:
    # The group's template is the one instance template of the plan (one GPU VM shape per stack).
    templates = [r for r in resources if r["type"] == "gcp:compute/instanceTemplate:InstanceTemplate"]
    if len(templates) != 1:
        raise ValueError(f"expected one instance template for {manager['name']}, found {len(templates)}")
    spec = templates[0]["inputs"]
    count = int(manager["inputs"].get("targetSize", 0))
    lines = _gce_vm_lines(manager, component, spec, count, multiplier)
    for disk in spec.get("disks", []):
        item = "boot disk" if disk.get("boot") else f"{disk.get('deviceName', 'data')} disk"
        lines.append(_disk_line(manager, component, item, disk["diskSizeGb"], disk["diskType"], count, multiplier))
    return lines


def cloud_of(cost_line: Mapping[str, Any]) -> str:
    """ "aws" or "gcp": which budget a line counts against (by the resource type in its URN)."""
    chain = str(cost_line["urn"]).split("::")[2]
    return "gcp" if chain.rsplit("$", 1)[-1].startswith("gcp:") else "aws"


def top_contributors(lines: Iterable[Mapping[str, Any]], scale: str = "max", count: int = 3) -> list[Mapping[str, Any]]:
    return sorted(lines, key=lambda ln: ln["monthly"][scale], reverse=True)[:count]


def gpu_groups_of(resources: Iterable[Resource]) -> dict[str, int]:
    """GPU group name -> GPUs per node, from the plan's node groups (the system group has none)."""
    result = {}
    for r in resources:
        if r["type"] == "aws:eks/nodeGroup:NodeGroup":
            gpus = GPU_INSTANCES.get(r["inputs"]["instanceTypes"][0])
            if gpus is not None:
                result[r["name"].removeprefix("nodes-")] = gpus.gpus
    return result
