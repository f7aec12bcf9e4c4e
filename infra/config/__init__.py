"""The stack configuration: every `ai-serving:*` key of Pulumi.<stack>.yaml, parsed once into typed models.

`load_stack_config` is the only entry point. It validates structure (types, bounds, unknown keys) with pydantic
and then the rules that span several keys, and raises `ConfigError` with one line per problem before the
program declares anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from catalogs.platform_images import PLATFORM_IMAGE_REPOSITORIES, PlatformImageName

from .aws import (
    DOCKER_HUB_CREDENTIALS_CONFIG_KEY,
    ClusterConfig,
    EcrConfig,
    GithubConfig,
    GpuNodeGroupConfig,
    NetworkConfig,
    github_id_problems,
)
from .base import NAMESPACE, ConfigError, ConfigProblem, ImageDigest, StrictModel, key_path, problems_from_validation_error
from .ci_runners import CiRunnersConfig, ci_runner_problems
from .cost import NOT_GIVEN, CostConfig, cost_problems
from .delivery import ArgoCdConfig, ModelGateConfig, argocd_problems, model_gate_problems
from .edge import EDGE_API_KEYS_CONFIG_KEY, EdgeConfig, edge_problems
from .gcp import APP_ENV_SECRET_KEY, GcpConfig, gcp_problems
from .image_rules import image_source_problems
from .serving import SERVING_SECRET_KEYS, ModelConfig, ServingConfig
from .serving_rules import serving_problems

__all__ = ["SECRET_KEYS", "ConfigError", "ConfigProblem", "StackConfig", "aws_default_tags", "load_stack_config", "read_pulumi_config"]

# Keys set with `pulumi config set --secret`. They are read with pulumi.Config.require_secret where used, never
# parsed into StackConfig, so their values stay wrapped as secrets end to end.
SECRET_KEYS: frozenset[str] = SERVING_SECRET_KEYS | {APP_ENV_SECRET_KEY, EDGE_API_KEYS_CONFIG_KEY, DOCKER_HUB_CREDENTIALS_CONFIG_KEY}


class StackConfig(StrictModel):
    # What kind of environment this stack is. Policies that must hold in production (no API endpoint open to
    # the world, protected state, image digests...) key on this value, never on the stack's name.
    tier: Literal["staging", "production"]
    # Protect and retain stateful resources (ECR repository, KMS keys) so `pulumi destroy` cannot remove them.
    protect_stateful_resources: bool = False
    network: NetworkConfig
    cluster: ClusterConfig
    gpu_node_groups: Annotated[list[GpuNodeGroupConfig], Field(min_length=1)]
    ecr: EcrConfig
    github: GithubConfig
    # Where the CI jobs that reach the EKS API run (they must be able to reach it).
    ci_runners: CiRunnersConfig = CiRunnersConfig()
    # Argo CD and its Applications (unset: not installed).
    argocd: ArgoCdConfig | None = None
    model_gate: ModelGateConfig = ModelGateConfig()
    # Serving layer: cluster add-ons (unset: not installed) and the served models.
    serving: ServingConfig | None = None
    models: list[ModelConfig] = []
    # The authenticated HTTPS endpoint in front of the models (unset: none).
    edge: EdgeConfig | None = None
    # GCP GPU VM path: unset or enabled: false means no GCP resources.
    gcp: GcpConfig | None = None
    # Digests of the platform's own images (catalogs/platform_images.py), by name; production pins each one it runs.
    platform_image_digests: dict[PlatformImageName, ImageDigest] = {}
    # Monthly budgets, checked against the plan's cost estimate and watched by AWS Budgets / Cloud Billing (unset: none).
    cost: CostConfig | None = None


@dataclass(frozen=True)
class Environment:
    """What the cross-field rules may know besides StackConfig itself."""

    region: str | None
    secrets_present: frozenset[str]
    # The Pulumi stack, when known: physical names (and their length limits) derive from it.
    stack: str | None = None
    # The AWS provider's `aws:defaultTags` (JSON-decoded; None when unset), or NOT_GIVEN when the caller does not
    # know the provider config (unit tests of other rules): then its rules are skipped.
    aws_default_tags: Any = NOT_GIVEN


def _aws_platform_problems(cfg: StackConfig, env: Environment) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    region = env.region
    if region is None:
        problems.append(ConfigProblem("aws:region", None, "required: the AWS region the stack deploys to"))
    else:
        for i, az in enumerate(cfg.network.availability_zones):
            if not az.startswith(region) or len(az) != len(region) + 1:
                problems.append(
                    ConfigProblem(
                        key_path("network", "availabilityZones", i), az, f"must be a zone of aws:region {region} (e.g. {region}a)"
                    )
                )

    cluster = cfg.cluster
    if cluster.public_endpoint and not cluster.public_access_cidrs:
        problems.append(
            ConfigProblem(
                key_path("cluster", "publicAccessCidrs"),
                [],
                "list the CIDRs allowed to reach the public API endpoint (empty means 0.0.0.0/0 on AWS), or set cluster.publicEndpoint: false",
            )
        )
    if cfg.tier == "production" and not cluster.allow_public_endpoint_from_anywhere:
        for i, cidr in enumerate(cluster.public_access_cidrs):
            if cidr.prefixlen == 0:
                problems.append(
                    ConfigProblem(
                        key_path("cluster", "publicAccessCidrs", i),
                        str(cidr),
                        "production may not open the API endpoint to 0.0.0.0/0 unless cluster.allowPublicEndpointFromAnywhere is true",
                    )
                )
    if cfg.tier == "production" and not cfg.protect_stateful_resources:
        problems.append(ConfigProblem(key_path("protectStatefulResources"), False, "must be true when tier is production"))
    if cfg.tier == "production":
        problems += _unpinned_platform_images(cfg)
    problems += github_id_problems(cfg.tier, cfg.github)

    seen: set[str] = set()
    for i, group in enumerate(cfg.gpu_node_groups):
        if group.name in seen:
            problems.append(ConfigProblem(key_path("gpuNodeGroups", i, "name"), group.name, "GPU node group names must be unique"))
        seen.add(group.name)
    return problems


def _unpinned_platform_images(cfg: StackConfig) -> list[ConfigProblem]:
    """Production pins every platform image it runs: the device plugin and Fluent Bit always, the endpoint picker
    with the edge."""
    running: list[PlatformImageName] = ["nvidia-device-plugin", "fluent-bit"]
    if cfg.edge is not None and cfg.edge.enabled:
        running.append("endpoint-picker")
    return [
        ConfigProblem(
            key_path("platformImageDigests", name),
            None,
            f"production pins {PLATFORM_IMAGE_REPOSITORIES[name]} by digest (sha256:<64 hex> of the tag the program runs)",
        )
        for name in running
        if name not in cfg.platform_image_digests
    ]


def _delivery_problems(cfg: StackConfig, env: Environment) -> list[ConfigProblem]:
    managed = {cfg.serving.namespace} if cfg.serving else set()
    argocd = argocd_problems(cfg.tier, cfg.argocd, cfg.cluster.system_node_group.scaling.min_size, managed)
    return argocd + model_gate_problems(cfg.tier, cfg.models, cfg.model_gate)


# Rules that span several keys, one function per area; each returns its problems (empty when all is well).
CROSS_FIELD_CHECKS: list[Callable[[StackConfig, Environment], list[ConfigProblem]]] = [
    _aws_platform_problems,
    _delivery_problems,
    serving_problems,
    image_source_problems,
    edge_problems,
    ci_runner_problems,
    gcp_problems,
    cost_problems,
]


def load_stack_config(
    raw: dict[str, Any],
    region: str | None,
    encrypted_keys: frozenset[str] | None = None,
    stack: str | None = None,
    aws_default_tags: Any = NOT_GIVEN,
) -> StackConfig:
    """Parse `ai-serving:*` values (already JSON-decoded, keyed without the namespace) into a StackConfig.

    Secret keys (SECRET_KEYS) are not part of StackConfig: the rules only learn whether they are set, and that
    they were set as secrets. `encrypted_keys` are the keys Pulumi holds encrypted; by default, those whose value
    in a stack file is `{secure: ...}`.
    """
    if encrypted_keys is None:
        encrypted_keys = frozenset(k for k, v in raw.items() if isinstance(v, dict) and set(v) == {"secure"})
    secrets_present = frozenset(k for k in raw if k in SECRET_KEYS)
    plain_text_secrets = [
        # The value itself is never echoed: it is a credential.
        ConfigProblem(key_path(k), "<plain text, not shown>", f"must be set encrypted: pulumi config set --secret {NAMESPACE}:{k}")
        for k in sorted(secrets_present - encrypted_keys)
    ]
    try:
        cfg = StackConfig.model_validate({k: v for k, v in raw.items() if k not in SECRET_KEYS})
    except ValidationError as err:
        raise ConfigError(_values_hidden(plain_text_secrets + problems_from_validation_error(err), encrypted_keys)) from None
    env = Environment(region, secrets_present, stack, aws_default_tags)
    problems = plain_text_secrets + [p for check in CROSS_FIELD_CHECKS for p in check(cfg, env)]
    if problems:
        raise ConfigError(_values_hidden(problems, encrypted_keys))
    return cfg


def _values_hidden(problems: list[ConfigProblem], encrypted_keys: frozenset[str]) -> list[ConfigProblem]:
    """The problems, without the values of encrypted keys (a misspelt secret key, a setting set with --secret):
    under `pulumi up` those arrive decrypted, and problem lines end up in CI logs."""

    def top_key(path: str) -> str:
        return re.split(r"[.\[]", path.removeprefix(f"{NAMESPACE}:"), maxsplit=1)[0]

    return [replace(p, value="<secret, not shown>") if top_key(p.path) in encrypted_keys else p for p in problems]


def aws_default_tags(values: Mapping[str, Any]) -> Any:
    """The running program's `aws:defaultTags` (JSON-decoded), or None."""
    value = values.get("aws:defaultTags")
    return None if value is None else _decode(value)


def read_pulumi_config(values: Mapping[str, Any], secret_keys: frozenset[str]) -> tuple[dict[str, Any], str | None, frozenset[str]]:
    """The `ai-serving:*` keys (without the namespace, JSON-decoded), aws:region and which of the keys are secrets,
    from the running program's config (`infra.pulumi_sdk.stack_config_values()`: keys as `namespace:key`)."""
    raw: dict[str, Any] = {}
    encrypted: set[str] = set()
    for full_key, value in values.items():
        namespace, _, key = full_key.partition(":")
        if namespace != NAMESPACE:
            continue
        raw[key] = _decode(value)
        if full_key in secret_keys:
            encrypted.add(key)
    return raw, values.get("aws:region"), frozenset(encrypted)


def _decode(value: Any) -> Any:
    # Pulumi passes structured values as JSON text and scalars as plain strings.
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value
