"""The edge as the stack program declares it for the checked-in stacks: wiring between the edge and the rest."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.k8s.edge_spec import EDGE_ROLE_LABEL, ENDPOINT_PICKER_ROLE, ENVOY_PROXY_ROLE, GATEWAY_NAMESPACE
from infra.args.edge import EDGE_API_GROUPS
from infra.plan.run import Plan
from infra.plan.stackfile import secret_stand_in
from tests.harness import checked_in_plan


@pytest.fixture(scope="module", params=["staging", "production"])
def plan(request: pytest.FixtureRequest) -> Plan:
    return checked_in_plan(request.param)


def _objects(plan: Plan, kind: str) -> list[dict[str, Any]]:
    return [o for o in plan.objects if o["kind"] == kind]


def test_the_endpoint_and_the_served_models_are_outputs(plan: Plan) -> None:
    edge = plan.config.edge
    assert edge is not None
    outputs = plan.document["outputs"]
    assert outputs["modelEndpoint"] == f"https://{edge.host}/v1"
    assert outputs["servedModels"] == [m.served_name for m in plan.config.models]


def test_models_admit_only_monitoring_clients_and_the_edge(plan: Plan) -> None:
    assert plan.config.serving is not None
    models_ns = plan.config.serving.namespace

    def namespace(ns: str) -> dict[str, Any]:
        return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}

    def smoke_test(model: str) -> dict[str, Any]:
        # `ai-serving rollout-status`'s smoke test of this model, from the models' namespace.
        return {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "smoke-test", "app.kubernetes.io/name": model}}}

    edge = [
        {**namespace(GATEWAY_NAMESPACE), "podSelector": {"matchLabels": {EDGE_ROLE_LABEL: ENVOY_PROXY_ROLE}}},
        {**namespace(models_ns), "podSelector": {"matchLabels": {EDGE_ROLE_LABEL: ENDPOINT_PICKER_ROLE}}},
    ]
    for model in plan.config.models:
        [policy] = [p for p in _objects(plan, "NetworkPolicy") if p["metadata"]["name"] == model.name]
        [ingress] = policy["spec"]["ingress"]
        # Not the whole models' namespace: another model's pods have no business calling this one.
        clients = [namespace("monitoring"), *(namespace(ns) for ns in plan.config.serving.client_namespaces)]
        assert ingress["from"] == [*clients, smoke_test(model.name), *edge]


def test_the_preview_role_may_dry_run_the_edge_kinds(plan: Plan) -> None:
    [role] = [r for r in _objects(plan, "ClusterRole") if r["metadata"]["name"] == "ai-serving:ci-preview-dry-run"]
    groups = role["rules"][0]["apiGroups"]
    assert {g for g in EDGE_API_GROUPS if g != "rbac.authorization.k8s.io"} <= set(groups)
    assert "admissionregistration.k8s.io" not in groups


def test_every_routed_model_has_a_pool_and_a_rule(plan: Plan) -> None:
    [route] = _objects(plan, "AIGatewayRoute")
    served = {m.served_name: m.name for m in plan.config.models}
    rules = {r["matches"][0]["headers"][0]["value"]: r["backendRefs"][0]["name"] for r in route["spec"]["rules"]}
    assert rules == served
    assert {p["metadata"]["name"] for p in _objects(plan, "InferencePool")} == set(served.values())


def test_api_keys_never_appear_in_plain_text(plan: Plan) -> None:
    marker = secret_stand_in("ai-serving:edgeApiKeys")
    assert marker not in json.dumps(plan.document)
    assert marker not in json.dumps(plan.objects)
    [secret] = [s for s in _objects(plan, "Secret") if s["metadata"]["name"] == "ai-serving-edge-api-keys"]
    assert set(secret["stringData"].values()) == {"[secret]"}
    edge = plan.config.edge
    assert edge is not None
    assert set(secret["stringData"]) == {f"{c.id}.k1" for c in edge.clients}


def test_the_gateway_waits_for_the_load_balancer_controller(plan: Plan) -> None:
    by_name = {r.name: r for r in plan.evaluation.resources}
    lbc = by_name["edge-lbc"]
    # The Gateway and its EnvoyProxy make Envoy Gateway create the LoadBalancer Service: the controller that turns
    # it into an NLB (instead of a classic ELB from the cloud provider) must run first.
    for kind in ("gateway.envoyproxy.io/v1alpha1:EnvoyProxy", "gateway.networking.k8s.io/v1:Gateway"):
        [resource] = [r for r in plan.evaluation.resources if r.type == f"kubernetes:{kind}"]
        assert lbc.urn in resource.dependencies, kind


def test_the_deploy_role_may_validate_the_certificate_in_the_stack_zone_only(plan: Plan) -> None:
    edge = plan.config.edge
    assert edge is not None
    [deploy] = [r for r in plan.evaluation.resources if r.type == "aws:iam/rolePolicy:RolePolicy" and r.name == "ci-deploy"]
    statements = {s["Sid"]: s for s in json.loads(deploy.inputs["policy"])["Statement"]}
    assert statements["EdgeValidationRecords"]["Resource"] == f"arn:aws:route53:::hostedzone/{edge.hosted_zone.id}"
    # The checked-in stacks keep local limits only: no ElastiCache rights.
    assert "EdgeRateLimitRedis" not in statements
