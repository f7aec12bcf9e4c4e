"""The `edge` config section: host in its zone, production exposure, routed models, clients, limits, the keys secret."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.config import ConfigError, StackConfig, load_stack_config
from tests.harness import stack_config

REGION = {"staging": "us-west-2", "production": "us-east-1"}
SECRET = {"secure": "v1:c3RhbmQtaW4="}
EDGE: dict[str, Any] = {
    "host": "api.staging.example.com",
    "hostedZone": {"id": "Z0123456789ABCDEFGHIJ", "name": "staging.example.com"},
    "allowedClientCidrs": ["10.0.0.0/8"],
    "clients": [{"id": "chat-frontend", "requestsPerMinute": 600}, {"id": "batch-eval"}],
}


def _raw(stack: str = "staging", **edge: Any) -> dict[str, Any]:
    raw = copy.deepcopy(stack_config(stack))
    raw["gcpAppEnv"] = dict(SECRET)
    raw["edgeApiKeys"] = dict(SECRET)
    raw["edge"] = {**copy.deepcopy(EDGE), **edge}
    return raw


def _load(raw: dict[str, Any], stack: str = "staging") -> StackConfig:
    return load_stack_config(raw, REGION[stack])


def _problems(raw: dict[str, Any], stack: str = "staging") -> dict[str, str]:
    with pytest.raises(ConfigError) as err:
        _load(raw, stack)
    return {p.path: f"{p.value!r}: {p.allowed}" for p in err.value.problems}


def test_a_minimal_edge_is_internal_with_defaults() -> None:
    edge = _load(_raw()).edge
    assert edge is not None and edge.enabled
    assert (edge.scheme, edge.replicas, edge.max_request_body_kib, edge.models) == ("internal", 2, 4096, None)
    assert (edge.timeouts.request_seconds, edge.timeouts.stream_idle_seconds) == (600, 300)
    assert [c.requests_per_minute for c in edge.clients] == [600, 60]


@pytest.mark.parametrize("host", ["api.other.com", "example.com", "stagingexample.com"])
def test_host_must_be_in_the_hosted_zone(host: str) -> None:
    problems = _problems(_raw(host=host))
    assert "is not in hostedZone.name 'staging.example.com'" in problems["ai-serving:edge"]


def test_host_may_be_the_zone_apex() -> None:
    assert _load(_raw(host="staging.example.com")).edge is not None


@pytest.mark.parametrize(("key", "value"), [("host", "API.example.com"), ("host", "api.example.com."), ("host", "localhost")])
def test_host_must_be_a_lowercase_dns_name(key: str, value: str) -> None:
    assert "ai-serving:edge.host" in _problems(_raw(**{key: value}))


@pytest.mark.parametrize("client_id", ["Chat", "1chat", "chat_frontend", "c", "chat-", "x" * 41])
def test_client_id_format(client_id: str) -> None:
    problems = _problems(_raw(clients=[{"id": client_id}]))
    assert "ai-serving:edge.clients[0].id" in problems
    assert repr(client_id) in problems["ai-serving:edge.clients[0].id"]


def test_client_ids_are_unique_and_at_most_16() -> None:
    assert "repeated: ['a1']" in _problems(_raw(clients=[{"id": "a1"}, {"id": "a1"}]))["ai-serving:edge.clients"]
    assert "ai-serving:edge.clients" in _problems(_raw(clients=[{"id": f"client-{i}"} for i in range(17)]))


@pytest.mark.parametrize(
    ("edge", "path"),
    [
        ({"clients": [{"id": "chat", "requestsPerMinute": 0}]}, "ai-serving:edge.clients[0].requestsPerMinute"),
        ({"maxRequestBodyKib": 10}, "ai-serving:edge.maxRequestBodyKib"),
        ({"timeouts": {"requestSeconds": 5}}, "ai-serving:edge.timeouts.requestSeconds"),
        ({"timeouts": {"streamIdleSeconds": 350}}, "ai-serving:edge.timeouts.streamIdleSeconds"),
        ({"replicas": 0}, "ai-serving:edge.replicas"),
        ({"scheme": "public"}, "ai-serving:edge.scheme"),
        ({"allowedClientCidrs": []}, "ai-serving:edge.allowedClientCidrs"),
        ({"hostedZone": {"id": "zone-1", "name": "staging.example.com"}}, "ai-serving:edge.hostedZone.id"),
        ({"rateLimit": 5}, "ai-serving:edge.rateLimit"),
    ],
)
def test_out_of_range_values_name_their_key(edge: dict[str, Any], path: str) -> None:
    assert path in _problems(_raw(**edge))


def test_routed_models_must_be_served() -> None:
    problems = _problems(_raw(models=["qwen-missing"]))
    assert "'qwen-missing': must name one of models[].name" in problems["ai-serving:edge.models[0]"]


def test_production_refuses_an_open_internet_facing_endpoint() -> None:
    raw = _raw("production", scheme="internet-facing", allowedClientCidrs=["203.0.113.0/24", "0.0.0.0/0"])
    problems = _problems(raw, "production")
    assert "allowInternetFromAnywhere" in problems["ai-serving:edge.allowedClientCidrs[1]"]
    assert "ai-serving:edge.allowedClientCidrs[0]" not in problems
    raw["edge"]["allowInternetFromAnywhere"] = True
    assert _load(raw, "production").edge is not None


def test_staging_may_open_an_internet_facing_endpoint() -> None:
    assert _load(_raw(scheme="internet-facing", allowedClientCidrs=["0.0.0.0/0"])).edge is not None


def test_production_runs_two_envoy_replicas() -> None:
    assert "ai-serving:edge.replicas" in _problems(_raw("production", replicas=1), "production")


def test_the_api_keys_secret_is_required_and_must_be_encrypted() -> None:
    raw = _raw()
    del raw["edgeApiKeys"]
    assert "required when the edge is enabled" in _problems(raw)["ai-serving:edgeApiKeys"]
    raw["edgeApiKeys"] = {"chat-frontend": ["sk-planted-123"]}
    problem = _problems(raw)["ai-serving:edgeApiKeys"]
    assert "must be set encrypted" in problem and "sk-planted" not in problem


def test_the_edge_needs_served_models() -> None:
    raw = _raw()
    raw["models"] = []
    assert "routes to served models" in _problems(raw)["ai-serving:edge.enabled"]


def test_a_disabled_edge_is_not_checked() -> None:
    raw = _raw(enabled=False, host="api.elsewhere.org")
    del raw["edgeApiKeys"]
    with pytest.raises(ConfigError) as err:
        _load(raw)
    # Structure is still checked (host not in zone is a model rule), the cross-key rules are not.
    assert [p.path for p in err.value.problems] == ["ai-serving:edge"]


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "52.94.0.0/22"])
def test_an_internal_endpoint_admits_private_ranges_only(cidr: str) -> None:
    problems = _problems(_raw(allowedClientCidrs=["10.20.0.0/16", cidr]))
    assert "private" in problems["ai-serving:edge.allowedClientCidrs[1]"]
    assert "ai-serving:edge.allowedClientCidrs[0]" not in problems


def test_the_staging_endpoint_admits_its_own_vpc() -> None:
    cfg = _load(copy.deepcopy(stack_config("staging")) | {"gcpAppEnv": dict(SECRET)})
    assert cfg.edge is not None and cfg.edge.scheme == "internal"
    assert all(cidr.overlaps(cfg.network.cidr) for cidr in cfg.edge.allowed_client_cidrs)


def test_global_limits_are_unset_by_default_and_take_redis_defaults() -> None:
    unset, limited = _load(_raw()).edge, _load(_raw(globalLimits={"tokensPerMinute": 50_000})).edge
    assert unset is not None and unset.global_limits is None
    assert limited is not None and limited.global_limits is not None
    limits = limited.global_limits
    assert (limits.tokens_per_minute, limits.requests_per_minute) == (50_000, None)
    assert (limits.redis.node_type, limits.redis.replicas) == ("cache.t4g.small", 1)


@pytest.mark.parametrize(
    ("limits", "path"),
    [
        ({}, "ai-serving:edge.globalLimits.tokensPerMinute"),
        ({"tokensPerMinute": 10}, "ai-serving:edge.globalLimits.tokensPerMinute"),
        ({"tokensPerMinute": 1000, "requestsPerMinute": 0}, "ai-serving:edge.globalLimits.requestsPerMinute"),
        ({"tokensPerMinute": 1000, "redis": {"replicas": 3}}, "ai-serving:edge.globalLimits.redis.replicas"),
        ({"tokensPerMinute": 1000, "redis": {"nodeType": "t4g.small"}}, "ai-serving:edge.globalLimits.redis.nodeType"),
        ({"tokensPerMinute": 1000, "redis": {"nodeType": "cache.t2.micro"}}, "ai-serving:edge.globalLimits.redis.nodeType"),
        ({"tokensPerMinute": 1000, "redis": {"engine": "memcached"}}, "ai-serving:edge.globalLimits.redis.engine"),
    ],
)
def test_global_limits_out_of_range_name_their_key(limits: dict[str, Any], path: str) -> None:
    assert path in _problems(_raw(globalLimits=limits))


def test_production_keeps_a_redis_replica() -> None:
    raw = _raw("production", globalLimits={"tokensPerMinute": 1000, "redis": {"replicas": 0}})
    assert "automatic failover" in _problems(raw, "production")["ai-serving:edge.globalLimits.redis.replicas"]
    assert _load(_raw(globalLimits={"tokensPerMinute": 1000, "redis": {"replicas": 0}})).edge is not None
