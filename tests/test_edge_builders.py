"""The edge's pure builders: NLB annotations, route table, pools, policies, endpoint pickers, chart values."""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.k8s.edge_epp import endpoint_picker_objects
from components.k8s.edge_objects import client_traffic_policy, envoy_proxy, gateway, gateway_class, nlb_annotations
from components.k8s.edge_policies import (
    api_key_secret_data,
    backend_traffic_policy,
    client_id_pattern,
    security_policy,
)
from components.k8s.edge_routing import ai_gateway_route, inference_pool, route_namespace
from components.k8s.edge_spec import CLIENT_ID_HEADER, EDGE_NAME, EdgeTimeouts, RoutedModel
from components.k8s.edge_values import AI_GATEWAY, ENVOY_GATEWAY, ai_gateway_values, envoy_gateway_values
from tests import upstream
from tests.crd_structure import problems
from tests.edge_sample import CERTIFICATE_ARN, CLIENTS, MODELS, SYSTEM_NODES

TIMEOUTS = EdgeTimeouts(request_seconds=900, stream_idle_seconds=300)
LB = "service.beta.kubernetes.io/aws-load-balancer-"


@pytest.mark.parametrize("scheme", ["internal", "internet-facing"])
def test_nlb_annotations(scheme: Any) -> None:
    a = nlb_annotations(scheme, CERTIFICATE_ARN, "llm.example.com", TIMEOUTS)
    assert a[f"{LB}scheme"] == scheme
    assert a[f"{LB}nlb-target-type"] == "ip"
    assert a[f"{LB}ssl-cert"] == CERTIFICATE_ARN and a[f"{LB}ssl-ports"] == "443"
    assert a[f"{LB}ssl-negotiation-policy"].startswith("ELBSecurityPolicy-TLS13-1-2-")
    assert a[f"{LB}alpn-policy"] == "HTTP2Preferred"
    assert a[f"{LB}proxy-protocol"] == "*"
    assert "proxy_protocol_v2.enabled=true" in a[f"{LB}target-group-attributes"].split(",")
    assert a["external-dns.alpha.kubernetes.io/hostname"] == "llm.example.com"


def test_envoy_service_is_an_nlb_limited_to_the_allowed_networks() -> None:
    obj = envoy_proxy("internal", CERTIFICATE_ARN, "llm.example.com", ["10.0.0.0/16"], TIMEOUTS, 3, SYSTEM_NODES)
    kube = obj["spec"]["provider"]["kubernetes"]
    service = kube["envoyService"]
    assert (service["type"], service["loadBalancerClass"]) == ("LoadBalancer", "service.k8s.aws/nlb")
    assert service["loadBalancerSourceRanges"] == ["10.0.0.0/16"]
    assert kube["envoyDeployment"]["replicas"] == 3 and kube["envoyDeployment"]["pod"]["nodeSelector"] == SYSTEM_NODES
    assert problems(obj) == []


def test_gateway_class_and_gateway_use_the_envoy_proxy() -> None:
    klass, gw = gateway_class(), gateway("llm.example.com", "llm-serving")
    assert klass["spec"]["parametersRef"]["name"] == EDGE_NAME and gw["spec"]["gatewayClassName"] == EDGE_NAME
    (listener,) = gw["spec"]["listeners"]
    # TLS already ended at the NLB: Envoy's listener is plain HTTP on the port the NLB forwards to.
    assert (listener["port"], listener["protocol"], listener["hostname"]) == (443, "HTTP", "llm.example.com")
    for obj in (klass, gw, client_traffic_policy(TIMEOUTS)):
        assert problems(obj) == [], obj["kind"]


def test_client_traffic_policy_requires_proxy_protocol_and_drops_a_spoofed_client_id() -> None:
    spec = client_traffic_policy(TIMEOUTS)["spec"]
    assert spec["proxyProtocol"] == {"optional": False}
    assert spec["timeout"]["http"]["streamIdleTimeout"] == "300s"
    # A client may not choose its rate-limit bucket, its route, or the pod (x-gateway-destination-endpoint would send
    # the request to any address).
    assert set(spec["headers"]["earlyRequestHeaders"]["remove"]) == {CLIENT_ID_HEADER, "x-ai-eg-model", "x-gateway-destination-endpoint"}


def test_route_table_sends_each_served_model_to_its_pool_and_nothing_else() -> None:
    route = ai_gateway_route(MODELS, TIMEOUTS)
    table = {}
    for rule in route["spec"]["rules"]:
        ((match,),) = [m["headers"] for m in rule["matches"]]
        assert (match["name"], match["type"]) == ("x-ai-eg-model", "Exact")
        ((backend),) = rule["backendRefs"]
        assert (backend["group"], backend["kind"]) == ("inference.networking.k8s.io", "InferencePool")
        table[match["value"]] = backend["name"]
        assert rule["timeouts"]["request"] == "900s" and rule["streamIdleTimeout"] == "300s"
    assert table == {m.served_model_name: m.name for m in MODELS}
    assert problems(route) == []


def test_pool_selects_stable_and_canary_pods_never_one_replicaset() -> None:
    model = MODELS[0]
    pool = inference_pool(model)
    assert pool["spec"]["selector"]["matchLabels"] == model.selector_labels
    assert pool["spec"]["targetPorts"] == [{"number": 8000}]
    assert pool["spec"]["endpointPickerRef"]["name"] == f"{model.name}-epp"
    # Fail open would let the request's own destination header choose the endpoint.
    assert pool["spec"]["endpointPickerRef"]["failureMode"] == "FailClose"
    assert problems(pool) == []
    hashed = RoutedModel("m", "m", "ns", {"rollouts-pod-template-hash": "abc"})
    with pytest.raises(ValueError, match="rollouts-pod-template-hash"):
        inference_pool(hashed)


def test_route_namespace_is_one_and_served_names_unique() -> None:
    assert route_namespace(MODELS) == "llm-serving"
    with pytest.raises(ValueError, match="exactly one namespace"):
        route_namespace([MODELS[0], RoutedModel("x", "x", "other", {"a": "b"})])
    with pytest.raises(ValueError, match="unique"):
        route_namespace([MODELS[0], RoutedModel("x", MODELS[0].served_model_name, "llm-serving", {"a": "b"})])


A1, A2, B1 = "a" * 32, "A" * 40, "b" * 44


def test_api_keys_become_two_credential_slots_per_client() -> None:
    data = api_key_secret_data({"alice": [A1, A2], "batch-jobs": [B1]}, CLIENTS)
    assert data == {"alice.k1": A1, "alice.k2": A2, "batch-jobs.k1": B1}


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"alice": [A1], "batch-jobs": [B1], "mallory": [A2]}, r"not in edge\.clients: \['mallory'\]"),
        ({"alice": [A1]}, r"without an API key in edgeApiKeys: \['batch-jobs'\]"),
        ({"alice": [A1, A2, "c" * 32], "batch-jobs": [B1]}, "one or two"),
        ({"alice": [], "batch-jobs": [B1]}, "one or two"),
        ({"alice": A1, "batch-jobs": [B1]}, "a list of one or two"),
        ({"alice": ["short-key"], "batch-jobs": [B1]}, "fewer than 32 characters"),
        ({"alice": [A1, A1], "batch-jobs": [B1]}, "the same"),
        (["not", "a", "map"], "JSON map"),
    ],
)
def test_bad_api_key_maps_are_refused_without_echoing_a_key(keys: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        api_key_secret_data(keys, CLIENTS)
    assert not any(k in str(err.value) for k in (A1, A2, B1, "short-key"))


def test_security_policy_reads_the_bearer_key_forwards_the_client_and_strips_the_key() -> None:
    policy = security_policy("llm-serving", ["203.0.113.0/24"])
    spec = policy["spec"]
    assert spec["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": EDGE_NAME}]
    auth = spec["apiKeyAuth"]
    assert auth["extractFrom"] == [{"headers": ["authorization"]}]
    assert auth["forwardClientIDHeader"] == CLIENT_ID_HEADER and auth["sanitize"] is True
    assert spec["authorization"]["defaultAction"] == "Deny"
    assert problems(policy) == []


def test_rate_limit_per_client_matches_both_keys_and_retries_only_before_any_byte() -> None:
    policy = backend_traffic_policy("llm-serving", CLIENTS, 4096)
    spec = policy["spec"]
    rules = spec["rateLimit"]["local"]["rules"]
    assert [r["limit"] for r in rules] == [{"requests": c.requests_per_minute, "unit": "Minute"} for c in CLIENTS]
    assert all(r["shared"] is True for r in rules)
    for rule, client in zip(rules, CLIENTS, strict=True):
        ((header,),) = [s["headers"] for s in rule["clientSelectors"]]
        assert (header["name"], header["type"], header["value"]) == (CLIENT_ID_HEADER, "RegularExpression", client_id_pattern(client.id))
    assert re.fullmatch(client_id_pattern("alice"), "alice.k2") and not re.fullmatch(client_id_pattern("alice"), "alicex.k1")
    assert spec["requestBuffer"] == {"limit": "4096Ki"}
    assert spec["retry"]["retryOn"] == {"triggers": ["connect-failure", "reset-before-request"]}
    assert "httpStatusCodes" not in spec["retry"]["retryOn"]
    not_found = [o for o in spec["responseOverride"] if o["match"]["statusCodes"] == [{"type": "Value", "value": 404}]]
    assert '"code":"model_not_found"' in not_found[0]["response"]["body"]["inline"]
    assert problems(policy) == []


def test_endpoint_picker_is_restricted_and_runs_on_system_nodes() -> None:
    image = "registry.k8s.io/gateway-api-inference-extension/epp:v1.0.2@sha256:" + "a" * 64
    objects = {o["kind"]: o for o in endpoint_picker_objects(MODELS[0], SYSTEM_NODES, image)}
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == image
    ctx = container["securityContext"]
    assert ctx["allowPrivilegeEscalation"] is False and ctx["capabilities"] == {"drop": ["ALL"]} and ctx["runAsNonRoot"]
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["nodeSelector"] == SYSTEM_NODES
    assert container["args"][:2] == ["--pool-name", MODELS[0].name]
    assert objects["Service"]["spec"]["selector"] == objects["Deployment"]["spec"]["selector"]["matchLabels"]


def _unknown_keys(values: Any, defaults: Any, path: tuple[str, ...], free_form: set[tuple[str, ...]]) -> list[str]:
    """Keys Helm would ignore: absent from the chart's values, below a container whose default is not {} / []."""
    if path in free_form or (defaults in ({}, [], None) and path):
        return []
    if not isinstance(values, dict):
        return []
    unknown = []
    for key, value in values.items():
        if not isinstance(defaults, dict) or key not in defaults:
            unknown.append(".".join((*path, key)))
        else:
            unknown += _unknown_keys(value, defaults[key], (*path, key), free_form)
    return unknown


@pytest.mark.parametrize("tier", ["staging", "production"])
def test_chart_values_keys_exist_in_the_pinned_charts(tier: Any) -> None:
    # gateway-helm renders config.envoyGateway whole into Envoy Gateway's configuration (the shared values checker
    # lists it as free-form for the same reason).
    eg = _unknown_keys(
        envoy_gateway_values(tier, SYSTEM_NODES),
        upstream.chart_values(ENVOY_GATEWAY.name, ENVOY_GATEWAY.version),
        (),
        {("config", "envoyGateway")},
    )
    aigw = _unknown_keys(ai_gateway_values(tier, SYSTEM_NODES), upstream.chart_values(AI_GATEWAY.name, AI_GATEWAY.version), (), set())
    assert eg == [] and aigw == []
    assert envoy_gateway_values(tier, SYSTEM_NODES)["crds"] == {"enabled": False}


def test_unknown_value_keys_are_caught() -> None:
    assert _unknown_keys({"crds": {"enable": False}}, upstream.chart_values(ENVOY_GATEWAY.name, ENVOY_GATEWAY.version), (), set()) == [
        "crds.enable"
    ]


def test_structure_check_catches_unknown_fields_and_bad_enums() -> None:
    policy = backend_traffic_policy("llm-serving", CLIENTS, 4096)
    policy["spec"]["retry"]["retryOn"]["triggers"] = ["sometimes"]
    policy["spec"]["requestBuffer"]["max"] = 1
    found = problems(policy)
    assert any("not in" in p for p in found) and any("requestBuffer.max: unknown field" in p for p in found)
