"""Global and token limits on the gateway side: the rate limit service's Redis backend, the route's token count and
one token rule (and optional request rule) per client; nothing of it when global limits are off."""

from __future__ import annotations

from typing import Any

import pytest

from components.k8s.edge_policies import backend_traffic_policy, client_id_pattern, global_rate_limit_rules
from components.k8s.edge_routing import ai_gateway_route
from components.k8s.edge_spec import CLIENT_ID_HEADER, EdgeTimeouts, GlobalLimits
from components.k8s.edge_values import envoy_gateway_values
from tests.crd_structure import problems
from tests.edge_sample import CLIENTS, MODELS, SYSTEM_NODES

LIMITS = GlobalLimits(tokens_per_minute=20_000, requests_per_minute=300, redis_url="master.rl.example.cache.amazonaws.com:6379")
TIMEOUTS = EdgeTimeouts(600, 300)


def test_each_client_gets_a_token_bucket_charged_by_the_answers_total_tokens() -> None:
    rules = global_rate_limit_rules(CLIENTS, GlobalLimits(20_000, None, "r:6379"))
    assert len(rules) == len(CLIENTS)
    for rule, client in zip(rules, CLIENTS, strict=True):
        [selector] = rule["clientSelectors"]
        assert selector["headers"] == [{"name": CLIENT_ID_HEADER, "type": "RegularExpression", "value": client_id_pattern(client.id)}]
        assert rule["limit"] == {"requests": 20_000, "unit": "Minute"}
        # One bucket per client across the route's per-model rules.
        assert rule["shared"] is True
        assert rule["cost"] == {
            "request": {"from": "Number", "number": 0},
            "response": {"from": "Metadata", "metadata": {"namespace": "io.envoy.ai_gateway", "key": "llm_total_token"}},
        }


def test_the_optional_request_limit_is_a_second_rule_per_client() -> None:
    rules = global_rate_limit_rules(CLIENTS, LIMITS)
    request_rules = [r for r in rules if "cost" not in r]
    assert [r["limit"] for r in request_rules] == [{"requests": 300, "unit": "Minute"}] * len(CLIENTS)
    assert all(r["shared"] for r in request_rules)
    assert [r["clientSelectors"] for r in request_rules] == [r["clientSelectors"] for r in rules if "cost" in r]


def test_the_route_counts_total_tokens_where_the_rules_read_them() -> None:
    route = ai_gateway_route(MODELS, TIMEOUTS, count_tokens=True)
    assert route["spec"]["llmRequestCosts"] == [{"metadataKey": "llm_total_token", "type": "TotalToken"}]
    assert problems(route) == []


def test_the_policy_keeps_local_limits_and_adds_the_global_rules() -> None:
    policy = backend_traffic_policy("llm-serving", CLIENTS, 4096, LIMITS)
    rate_limit = policy["spec"]["rateLimit"]
    assert rate_limit["local"] == backend_traffic_policy("llm-serving", CLIENTS, 4096)["spec"]["rateLimit"]["local"]
    assert rate_limit["global"]["rules"] == global_rate_limit_rules(CLIENTS, LIMITS)
    assert problems(policy) == []


@pytest.mark.parametrize("tier", ["staging", "production"])
def test_envoy_gateway_runs_its_rate_limit_service_against_the_redis_over_tls(tier: Any) -> None:
    config = envoy_gateway_values(tier, SYSTEM_NODES, LIMITS.redis_url)["config"]["envoyGateway"]
    assert config["rateLimit"] == {"backend": {"type": "Redis", "redis": {"url": LIMITS.redis_url}}}
    deployment = config["provider"]["kubernetes"]["rateLimitDeployment"]
    assert {"name": "REDIS_TLS", "value": "true"} in deployment["container"]["env"]
    assert deployment["pod"]["nodeSelector"] == SYSTEM_NODES
    assert config["provider"]["type"] == "Kubernetes"


def test_nothing_changes_without_global_limits() -> None:
    assert "llmRequestCosts" not in ai_gateway_route(MODELS, TIMEOUTS)["spec"]
    assert "global" not in backend_traffic_policy("llm-serving", CLIENTS, 4096)["spec"]["rateLimit"]
    config = envoy_gateway_values("production", SYSTEM_NODES)["config"]["envoyGateway"]
    assert "rateLimit" not in config and config["provider"] == {"type": "Kubernetes"}
