"""Config section `ai-serving:gcp`: GPU VMs on Compute Engine, their network, and the CI deploy identity.

The GCP project is the provider's standard key `gcp:project`; the GitHub repository comes from `ai-serving:github`.
Rules that need several keys, the tier or the secrets (accelerator vs machine type, zones vs region, rolling
update vs zones, image pinning in production, the app environment secret) live in `gcp_problems`, so each
error names the exact key.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator

from catalogs.artifact_registry import parse_image
from catalogs.gcp_machines import L4, shape_problem
from catalogs.naming import dns_label_pattern

from .base import ConfigProblem, StrictModel, key_path

if TYPE_CHECKING:
    from . import Environment, StackConfig

# The secret key holding the serving app's environment (KEY=VALUE lines), set with `pulumi config set --secret`.
APP_ENV_SECRET_KEY = "gcpAppEnv"

# Canonical's GPU image for Compute Engine: NVIDIA driver preinstalled and signed, so it loads with Secure Boot on.
DEFAULT_BOOT_IMAGE = "projects/ubuntu-os-accelerator-images/global/images/family/ubuntu-accelerator-2404-amd64-with-nvidia-580"

GcpRegion = Annotated[str, Field(pattern=r"^[a-z]+-[a-z]+\d+$")]
GcpZone = Annotated[str, Field(pattern=r"^[a-z]+-[a-z]+\d+-[a-z]$")]
# A DNS label (catalogs/naming.py) of at least 4 characters, so "<prefix>-vm" has the 6 a service account id
# needs; the upper limit (service account ids of at most 30) is checked by GcpConfig._not_reserved, with its reason.
NamePrefix = Annotated[str, Field(pattern=dns_label_pattern(), min_length=4)]
# The longest name built from the prefix: a service account id (6-30 characters).
LONGEST_ACCOUNT_SUFFIX = "-pulumi-preview"
MAX_ACCOUNT_ID = 30
LabelKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")]
LabelValue = Annotated[str, Field(pattern=r"^[a-z0-9_-]{0,63}$")]
DiskType = Literal["pd-balanced", "pd-ssd"]


class GcpNetworkConfig(StrictModel):
    subnet_cidr: IPv4Network = IPv4Network("10.40.0.0/24")

    @field_validator("subnet_cidr")
    @classmethod
    def _private_and_sized(cls, v: IPv4Network) -> IPv4Network:
        if not v.is_private:
            raise ValueError("must be a private (RFC 1918) range")
        if v.prefixlen > 28 or v.prefixlen < 16:
            raise ValueError("must be between a /16 and a /28")
        return v


class AcceleratorConfig(StrictModel):
    type: Literal["nvidia-l4", "nvidia-tesla-t4"] = L4
    count: Annotated[int, Field(ge=1, le=8)] = 1


class BootDiskConfig(StrictModel):
    size_gb: Annotated[int, Field(ge=50, le=65536)] = 200
    type: DiskType = "pd-balanced"
    image: Annotated[str, Field(pattern=r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/global/images/(family/)?[a-z]([-a-z0-9]*[a-z0-9])?$")] = (
        DEFAULT_BOOT_IMAGE
    )


class DataDiskConfig(StrictModel):
    """A persistent disk for the model cache, so a restart does not download the weights again."""

    size_gb: Annotated[int, Field(ge=10, le=65536)]
    type: DiskType = "pd-balanced"


class VmConfig(StrictModel):
    machine_type: str = "g2-standard-8"
    accelerator: AcceleratorConfig = AcceleratorConfig()
    count: Annotated[int, Field(ge=1, le=32)] = 1
    provisioning_model: Literal["STANDARD", "SPOT"] = "STANDARD"
    # What Compute Engine does to a SPOT VM it reclaims; ignored for STANDARD.
    spot_termination_action: Literal["STOP", "DELETE"] = "STOP"
    boot_disk: BootDiskConfig = BootDiskConfig()
    data_disk: DataDiskConfig | None = None


class ManagedInstanceGroupConfig(StrictModel):
    """A regional managed instance group over the configured zones instead of individual VMs."""

    enabled: bool = False
    # Autohealing waits this long after a VM starts before a failed health check may replace it (model load).
    initial_delay_sec: Annotated[int, Field(ge=0, le=3600)] = 1200
    # Rolling update. With several zones, each must be 0 or at least the number of zones (Compute Engine rule).
    max_surge: Annotated[int, Field(ge=0, le=100)] = 1
    max_unavailable: Annotated[int, Field(ge=0, le=100)] = 0


class AppConfig(StrictModel):
    # Artifact Registry Docker image with a tag and/or digest; production requires a digest.
    image: str
    port: Annotated[int, Field(ge=1024, le=65535)] = 8000
    health_path: Annotated[str, Field(pattern=r"^/[A-Za-z0-9._~/-]*$")] = "/health"
    # How long a stop waits for in-flight requests before the server is killed.
    drain_seconds: Annotated[int, Field(ge=10, le=1800)] = 120
    # How long a (re)start may take until the health path answers: image pull plus model load.
    startup_timeout_sec: Annotated[int, Field(ge=60, le=3600)] = 1200
    # Extra arguments for the image's entrypoint (e.g. vLLM flags); no secrets here (they go in gcpAppEnv).
    args: list[Annotated[str, Field(max_length=512)]] = []

    @field_validator("image")
    @classmethod
    def _artifact_registry_image(cls, v: str) -> str:
        if parse_image(v) is None:
            raise ValueError(
                "must be an Artifact Registry Docker image with a tag or digest: "
                "LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE[:TAG][@sha256:DIGEST]"
            )
        return v


class DeployConfig(StrictModel):
    """What a GitHub Actions token must carry to deploy. Unset both: the main branch of ai-serving:github."""

    github_environment: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,255}$")] | None = None
    ref: Annotated[str, Field(pattern=r"^refs/(heads|tags)/[A-Za-z0-9._/-]{1,200}$")] | None = None


class GcpConfig(StrictModel):
    enabled: bool = True
    name_prefix: NamePrefix
    region: GcpRegion
    zones: Annotated[list[GcpZone], Field(min_length=1, max_length=4)]
    network: GcpNetworkConfig = GcpNetworkConfig()
    vm: VmConfig = VmConfig()
    managed_instance_group: ManagedInstanceGroupConfig = ManagedInstanceGroupConfig()
    app: AppConfig
    deploy: DeployConfig = DeployConfig()
    # Added to every VM, disk and secret for cost reports (app, tier, component and gpu are always set).
    labels: dict[LabelKey, LabelValue] = {}

    @field_validator("zones")
    @classmethod
    def _unique_zones(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("must list each zone once")
        return v

    @field_validator("name_prefix")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v.startswith("gcp-"):
            raise ValueError("must not start with 'gcp-' (reserved for workload identity pool ids)")
        limit = MAX_ACCOUNT_ID - len(LONGEST_ACCOUNT_SUFFIX)
        if len(v) > limit:
            raise ValueError(
                f"must be at most {limit} characters, so that the service account id '{v}{LONGEST_ACCOUNT_SUFFIX}' fits {MAX_ACCOUNT_ID}"
            )
        return v


def gcp_problems(cfg: StackConfig, env: Environment) -> list[ConfigProblem]:
    """Cross-field rules of the `gcp` section; nothing to check when it is absent or disabled."""
    gcp = cfg.gcp
    if gcp is None or not gcp.enabled:
        return []
    problems: list[ConfigProblem] = []
    for i, zone in enumerate(gcp.zones):
        if zone.rsplit("-", 1)[0] != gcp.region:
            problems.append(
                ConfigProblem(key_path("gcp", "zones", i), zone, f"must be a zone of region {gcp.region} (e.g. {gcp.region}-a)")
            )

    vm = gcp.vm
    shape = shape_problem(vm.machine_type, vm.accelerator.type, vm.accelerator.count)
    if shape is not None:
        value = {"machineType": vm.machine_type, "accelerator.type": vm.accelerator.type, "accelerator.count": vm.accelerator.count}[
            shape.field
        ]
        problems.append(ConfigProblem(key_path("gcp", "vm", *shape.field.split(".")), value, shape.message))

    mig = gcp.managed_instance_group
    if mig.enabled:
        zones = len(gcp.zones)
        for key, value in (("maxSurge", mig.max_surge), ("maxUnavailable", mig.max_unavailable)):
            if zones > 1 and 0 < value < zones:
                problems.append(
                    ConfigProblem(
                        key_path("gcp", "managedInstanceGroup", key), value, f"must be 0 or at least the number of zones ({zones})"
                    )
                )
        if mig.max_surge == 0 and mig.max_unavailable == 0:
            problems.append(
                ConfigProblem(
                    key_path("gcp", "managedInstanceGroup", "maxSurge"),
                    0,
                    "maxSurge and maxUnavailable cannot both be 0 (no update could proceed)",
                )
            )

    image = parse_image(gcp.app.image)
    if cfg.tier == "production" and image is not None and image.digest is None:
        problems.append(
            ConfigProblem(key_path("gcp", "app", "image"), gcp.app.image, "production must pin the image by digest (...@sha256:<64 hex>)")
        )

    if APP_ENV_SECRET_KEY not in env.secrets_present:
        problems.append(
            ConfigProblem(
                key_path(APP_ENV_SECRET_KEY),
                "<missing>",
                "required when gcp is enabled: the app's environment (KEY=VALUE lines); "
                f"set it with `cat app.env | pulumi config set --secret {APP_ENV_SECRET_KEY}`",
            )
        )
    return problems


__all__ = ["APP_ENV_SECRET_KEY", "DEFAULT_BOOT_IMAGE", "GcpConfig", "gcp_problems"]
