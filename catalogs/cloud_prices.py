"""List prices the offline cost estimate multiplies: dated, cited, per region. Estimates, not a quote.

Every figure is a public on-demand list price in USD (Linux, shared tenancy; no Savings Plans, reservations,
committed-use or sustained-use discounts, credits or taxes) from the cited pages. PRICE_DATE is the day the table was
compiled, offline: the figures are the list prices as last known to its author, not read from the pages that day, so
treat them as estimates and refresh them (and PRICE_DATE) from the providers' price APIs before relying on them, e.g.
`aws pricing get-products --service-code AmazonEC2 --region us-east-1 --filters Type=TERM_MATCH,Field=instanceType,Value=g6e.2xlarge ...`
or the Cloud Billing Catalog API (`gcloud billing ... skus list` for service Compute Engine).

Regions: a region is priced when it is listed in AWS_REGION_MULTIPLIERS / GCP_REGION_MULTIPLIERS. The base prices
are those of us-east-1 (AWS) and us-central1 (GCP); the listed US regions publish the same list prices for every
item used here (multiplier 1.0, see the same pages with the region selected). The config refuses an unpriced region
(infra/config/cost.py), so a stack can never be planned without its cost.

Spot (AWS SPOT capacity, GCP SPOT VMs): spot prices move with demand and are not knowable offline. The estimate
applies a fixed discount per family, chosen at or below the usual savings that the EC2 Spot Instance Advisor and
the Compute Engine Spot VM price list show, so the spot figure errs high.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .aws_cpu_instances import CPU_FAMILIES, CPU_INSTANCES

PRICE_DATE: Final = "2026-11-29"
HOURS_PER_MONTH: Final = 730  # 365 * 24 / 12, the month AWS and Google price calculators use

EC2_ON_DEMAND_SOURCE: Final = "https://aws.amazon.com/ec2/pricing/on-demand/"
EC2_SPOT_SOURCE: Final = "https://aws.amazon.com/ec2/spot/instance-advisor/ (discount assumed, see catalogs/cloud_prices.py)"
EKS_SOURCE: Final = "https://aws.amazon.com/eks/pricing/"
VPC_SOURCE: Final = "https://aws.amazon.com/vpc/pricing/"
EBS_SOURCE: Final = "https://aws.amazon.com/ebs/pricing/"
ELB_SOURCE: Final = "https://aws.amazon.com/elasticloadbalancing/pricing/"
KMS_SOURCE: Final = "https://aws.amazon.com/kms/pricing/"
GCE_VM_SOURCE: Final = "https://cloud.google.com/compute/vm-instance-pricing"
GCE_GPU_SOURCE: Final = "https://cloud.google.com/compute/gpus-pricing"
GCE_DISK_SOURCE: Final = "https://cloud.google.com/compute/disks-image-pricing"
CLOUD_NAT_SOURCE: Final = "https://cloud.google.com/nat/pricing"


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str


# --- AWS, us-east-1 --------------------------------------------------------------------------------------------
AWS_REGION_MULTIPLIERS: dict[str, float] = {"us-east-1": 1.0, "us-east-2": 1.0, "us-west-2": 1.0}

# On-demand USD per instance-hour, GPU families (each size listed on the EC2 on-demand page).
_GPU_ON_DEMAND: dict[str, float] = {
    "g4dn.xlarge": 0.526, "g4dn.2xlarge": 0.752, "g4dn.4xlarge": 1.204, "g4dn.8xlarge": 2.176,
    "g4dn.16xlarge": 4.352, "g4dn.12xlarge": 3.912, "g4dn.metal": 7.824,
    "g5.xlarge": 1.006, "g5.2xlarge": 1.212, "g5.4xlarge": 1.624, "g5.8xlarge": 2.448,
    "g5.16xlarge": 4.096, "g5.12xlarge": 5.672, "g5.24xlarge": 8.144, "g5.48xlarge": 16.288,
    "g6.xlarge": 0.8048, "g6.2xlarge": 0.9776, "g6.4xlarge": 1.3232, "g6.8xlarge": 2.0144,
    "g6.16xlarge": 3.3968, "g6.12xlarge": 4.6016, "g6.24xlarge": 6.6752, "g6.48xlarge": 13.3504,
    "g6e.xlarge": 1.861, "g6e.2xlarge": 2.24208, "g6e.4xlarge": 3.00424, "g6e.8xlarge": 4.52856,
    "g6e.16xlarge": 7.57719, "g6e.12xlarge": 10.49264, "g6e.24xlarge": 15.06559, "g6e.48xlarge": 30.13118,
    "p4d.24xlarge": 21.96, "p4de.24xlarge": 27.45, "p5.4xlarge": 6.88, "p5.48xlarge": 55.04,
    "p5e.48xlarge": 63.30, "p5en.48xlarge": 63.30,
}  # fmt: skip

# CPU families are priced linearly in vCPUs: USD per instance-hour of the 2-vCPU ".large" size.
_CPU_LARGE_ON_DEMAND: dict[str, float] = {
    "m5": 0.096, "m6i": 0.096, "m7i": 0.1008, "m6a": 0.0864, "m7a": 0.11592,
    "c6i": 0.085, "c7i": 0.08925, "r6i": 0.126, "r7i": 0.1323,
}  # fmt: skip
_T3_ON_DEMAND: dict[str, float] = {"t3.medium": 0.0416, "t3.large": 0.0832, "t3.xlarge": 0.1664, "t3.2xlarge": 0.3328}


def _cpu_on_demand() -> dict[str, float]:
    prices = dict(_T3_ON_DEMAND)
    for instance_type, instance in CPU_INSTANCES.items():
        family = instance_type.split(".")[0]
        if family in CPU_FAMILIES:
            prices[instance_type] = round(_CPU_LARGE_ON_DEMAND[family] * instance.vcpus / 2, 6)
    return prices


EC2_ON_DEMAND_HOURLY: dict[str, float] = {**_GPU_ON_DEMAND, **_cpu_on_demand()}

# Fraction off the on-demand price assumed for SPOT capacity, per family (conservative: the figure errs high).
EC2_SPOT_DISCOUNT: dict[str, float] = {
    "g4dn": 0.5, "g5": 0.5, "g6": 0.5, "g6e": 0.4, "p4d": 0.3, "p4de": 0.3, "p5": 0.2, "p5e": 0.2, "p5en": 0.2,
    **{family: 0.5 for family in CPU_FAMILIES}, "t3": 0.5,
}  # fmt: skip

EKS_CONTROL_PLANE = Price(0.10, "cluster-hour", EKS_SOURCE)  # standard support; extended support is $0.60
NAT_GATEWAY = Price(0.045, "gateway-hour", VPC_SOURCE)  # plus $0.045 per GB processed: excluded (traffic-dependent)
PUBLIC_IPV4 = Price(0.005, "address-hour", VPC_SOURCE)  # every public IPv4 address, attached or not
NETWORK_LOAD_BALANCER = Price(0.0225, "load-balancer-hour", ELB_SOURCE)  # plus $0.006 per NLCU-hour: excluded
EBS_GP3 = Price(0.08, "GB-month", EBS_SOURCE)  # 3000 IOPS and 125 MB/s included
KMS_KEY = Price(1.0, "key-month", KMS_SOURCE)  # plus $0.03 per 10,000 requests: excluded

# --- GCP, us-central1 ------------------------------------------------------------------------------------------
GCP_REGION_MULTIPLIERS: dict[str, float] = {"us-central1": 1.0, "us-east1": 1.0, "us-west1": 1.0}

# G2: the machine type's vCPUs and memory per hour, without its bundled L4 GPUs (billed per GPU below).
G2_MACHINE_HOURLY: dict[str, float] = {
    "g2-standard-4": 0.14683, "g2-standard-8": 0.29313, "g2-standard-12": 0.43943, "g2-standard-16": 0.58573,
    "g2-standard-24": 0.87887, "g2-standard-32": 1.17094, "g2-standard-48": 1.75773, "g2-standard-96": 3.51546,
}  # fmt: skip
N1_VCPU_HOURLY = 0.031611
N1_MEMORY_GB_HOURLY = 0.004237
N1_MEMORY_GB_PER_VCPU: dict[str, float] = {"standard": 3.75, "highmem": 6.5, "highcpu": 0.9}
GPU_HOURLY: dict[str, float] = {"nvidia-l4": 0.5599, "nvidia-tesla-t4": 0.35}
# Fraction off for SPOT VMs (machine and GPUs); the Spot VM list shows 60-70 % off for G2 and N1 with T4.
GCE_SPOT_DISCOUNT: dict[str, float] = {"g2": 0.5, "n1": 0.5}
PERSISTENT_DISK_GB_MONTH: dict[str, float] = {"pd-balanced": 0.10, "pd-ssd": 0.17, "pd-standard": 0.04}
CLOUD_NAT_VM = Price(0.0014, "VM-hour", CLOUD_NAT_SOURCE)  # up to 32 VMs; plus $0.045 per GB processed: excluded


def gce_machine_hourly(machine_type: str) -> float | None:
    """On-demand USD per hour of a supported GPU machine type's vCPUs and memory (GPUs not included)."""
    if machine_type in G2_MACHINE_HOURLY:
        return G2_MACHINE_HOURLY[machine_type]
    parts = machine_type.split("-")
    if len(parts) == 3 and parts[0] == "n1" and parts[1] in N1_MEMORY_GB_PER_VCPU and parts[2].isdigit():
        vcpus = int(parts[2])
        return round(vcpus * N1_VCPU_HOURLY + vcpus * N1_MEMORY_GB_PER_VCPU[parts[1]] * N1_MEMORY_GB_HOURLY, 6)
    return None


def ec2_family(instance_type: str) -> str:
    return instance_type.split(".")[0]
