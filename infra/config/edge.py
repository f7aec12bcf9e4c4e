"""Config section `ai-serving:edge`: the one authenticated HTTPS endpoint that routes OpenAI requests to the models.

Unset, or `enabled: false`: no edge (models stay reachable inside the cluster only). Rules across keys (the host
inside its hosted zone, an open internet-facing endpoint in production, the models a route names, the API keys
secret) are in `edge_problems`, registered in CROSS_FIELD_CHECKS.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Network
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator, model_validator

from .base import ConfigProblem, StrictModel, key_path

if TYPE_CHECKING:
    from . import Environment, StackConfig

# The secret config key: a JSON map client id -> list of one or two API keys (two during a rotation).
EDGE_API_KEYS_CONFIG_KEY = "edgeApiKeys"

# Lowercase DNS name of at least two labels, no trailing dot.
DnsName = Annotated[str, Field(pattern=r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", max_length=253)]
# A client id names the client in logs (forwarded header), limits and the keys' Secret entries ("<id>.k1", "<id>.k2").
ClientId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")]
# Envoy Gateway 1.8.3 tracks at most 20 distinct clients in one local rate-limit rule, so the edge writes one rule per
# client; an AIGatewayRoute holds at most 15 rules.
MAX_CLIENTS = 16
MAX_ROUTED_MODELS = 15
# TLS ends at the NLB, whose TLS listeners close a connection idle for 350 s (fixed by AWS): a stream must send a
# byte more often than that.
NLB_TLS_IDLE_TIMEOUT_SECONDS = 350


class HostedZoneConfig(StrictModel):
    # The Route 53 public hosted zone that holds `host`: ACM validates the certificate through it (a private zone
    # cannot validate), and ExternalDNS may write only there.
    id: Annotated[str, Field(pattern=r"^Z[A-Z0-9]{1,31}$")]
    name: DnsName


class EdgeClientConfig(StrictModel):
    id: ClientId
    # Local rate limit per Envoy replica: requests per minute for this client's keys.
    requests_per_minute: Annotated[int, Field(ge=1, le=100_000)] = 60


class EdgeTimeoutsConfig(StrictModel):
    # Whole request, headers to last byte of the answer (long streamed generations). A non-streamed answer is
    # silent until it is complete, so it must finish within the NLB's 350 s idle limit whatever this says.
    request_seconds: Annotated[int, Field(ge=30, le=3600)] = 600
    # Longest gap between two bytes of a streamed answer, below the NLB's fixed 350 s.
    stream_idle_seconds: Annotated[int, Field(ge=10, le=NLB_TLS_IDLE_TIMEOUT_SECONDS - 10)] = 300


# ElastiCache node types of the families that support in-transit and at-rest encryption, e.g. cache.t4g.small.
CacheNodeType = Annotated[str, Field(pattern=r"^cache\.(t3|t4g|m6g|m7g|r6g|r7g)\.[a-z0-9]+$")]


class RateLimitRedisConfig(StrictModel):
    # The counters are small: the smallest burstable node holds them; a bigger one only adds connections.
    node_type: CacheNodeType = "cache.t4g.small"
    # Read replicas besides the primary; at least 1 gives automatic failover to another zone.
    replicas: Annotated[int, Field(ge=0, le=2)] = 1


class EdgeGlobalLimitsConfig(StrictModel):
    # Per client, across every Envoy replica: tokens (prompt + completion, as the AI Gateway counts them) a minute.
    tokens_per_minute: Annotated[int, Field(ge=100, le=100_000_000)]
    # Per client, across every Envoy replica: requests a minute; unset: only the local per-replica limit.
    requests_per_minute: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    redis: RateLimitRedisConfig = RateLimitRedisConfig()


class EdgeConfig(StrictModel):
    enabled: bool = True
    # The endpoint's host name: https://<host>/v1 is the OpenAI base URL.
    host: DnsName
    hosted_zone: HostedZoneConfig
    # internal: reachable from the VPC (and what is routed to it); internet-facing: from the allowed CIDRs.
    scheme: Literal["internal", "internet-facing"] = "internal"
    allowed_client_cidrs: Annotated[list[IPv4Network], Field(min_length=1)]
    # Documented escape hatch: production refuses 0.0.0.0/0 on an internet-facing endpoint unless this is true.
    allow_internet_from_anywhere: bool = False
    clients: Annotated[list[EdgeClientConfig], Field(min_length=1, max_length=MAX_CLIENTS)]
    # Served model names (`models[].name`) the endpoint routes; unset: every model of the stack.
    models: Annotated[list[str], Field(min_length=1, max_length=MAX_ROUTED_MODELS)] | None = None
    # Largest request body; larger requests get 413 before they reach a model.
    max_request_body_kib: Annotated[int, Field(ge=64, le=65_536)] = 4096
    timeouts: EdgeTimeoutsConfig = EdgeTimeoutsConfig()
    # Envoy proxy replicas (production: at least 2).
    replicas: Annotated[int, Field(ge=1, le=20)] = 2
    # Unset: local per-replica request limits only. Set: token and request limits shared by all replicas, counted in a
    # Redis the program declares.
    global_limits: EdgeGlobalLimitsConfig | None = None

    @field_validator("clients")
    @classmethod
    def _unique_clients(cls, v: list[EdgeClientConfig]) -> list[EdgeClientConfig]:
        ids = [c.id for c in v]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"client ids must be unique; repeated: {repeated}")
        return v

    @model_validator(mode="after")
    def _host_in_zone(self) -> EdgeConfig:
        if self.host != self.hosted_zone.name and not self.host.endswith("." + self.hosted_zone.name):
            raise ValueError(f"host {self.host!r} is not in hostedZone.name {self.hosted_zone.name!r}")
        return self


def edge_problems(cfg: StackConfig, env: Environment) -> list[ConfigProblem]:
    """Rules between `edge`, `serving`, `models`, the tier and the secret keys."""
    edge = cfg.edge
    if edge is None or not edge.enabled:
        return []
    problems: list[ConfigProblem] = []
    if cfg.serving is None or not cfg.models:
        problems.append(
            ConfigProblem(
                key_path("edge", "enabled"), True, "the edge routes to served models: set serving and models, or disable the edge"
            )
        )
    served = {m.name for m in cfg.models}
    for i, name in enumerate(edge.models or []):
        if name not in served:
            problems.append(
                ConfigProblem(key_path("edge", "models", i), name, f"must name one of models[].name: {', '.join(sorted(served)) or 'none'}")
            )
    if edge.models is None and len(served) > MAX_ROUTED_MODELS:
        problems.append(
            ConfigProblem(
                key_path("edge", "models"), None, f"list at most {MAX_ROUTED_MODELS} models to route (one AIGatewayRoute holds 15 rules)"
            )
        )
    if edge.scheme == "internal":
        for i, cidr in enumerate(edge.allowed_client_cidrs):
            if not cidr.is_private:
                problems.append(
                    ConfigProblem(
                        key_path("edge", "allowedClientCidrs", i),
                        str(cidr),
                        f"an internal endpoint is reached from private networks only (the VPC is {cfg.network.cidr}); list private ranges",
                    )
                )
    if cfg.tier == "production":
        if edge.scheme == "internet-facing" and not edge.allow_internet_from_anywhere:
            for i, cidr in enumerate(edge.allowed_client_cidrs):
                if cidr.prefixlen == 0:
                    problems.append(
                        ConfigProblem(
                            key_path("edge", "allowedClientCidrs", i),
                            str(cidr),
                            "production may not open an internet-facing endpoint to 0.0.0.0/0 unless edge.allowInternetFromAnywhere is true",
                        )
                    )
        if edge.replicas < 2:
            problems.append(ConfigProblem(key_path("edge", "replicas"), edge.replicas, "production runs at least 2 Envoy replicas"))
        if edge.global_limits is not None and edge.global_limits.redis.replicas < 1:
            problems.append(
                ConfigProblem(
                    key_path("edge", "globalLimits", "redis", "replicas"),
                    edge.global_limits.redis.replicas,
                    "production keeps at least 1 Redis replica (automatic failover)",
                )
            )
    if EDGE_API_KEYS_CONFIG_KEY not in env.secrets_present:
        problems.append(
            ConfigProblem(
                key_path(EDGE_API_KEYS_CONFIG_KEY),
                "<missing>",
                "required when the edge is enabled: a JSON map of client id to one or two API keys; "
                f'set it with `pulumi config set --secret {EDGE_API_KEYS_CONFIG_KEY} \'{{"<client>": ["<key>"]}}\'`',
            )
        )
    return problems


def api_keys_stand_in(edge: EdgeConfig, marker: str) -> str:
    """A value of `edgeApiKeys`'s shape (one key per client) built from `marker`, for the offline plan, which never
    decrypts the real value but must hand the program a map it can turn into the keys Secret."""
    return json.dumps({client.id: [f"{marker}-{client.id}"] for client in edge.clients})
