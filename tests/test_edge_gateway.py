"""ServingEdge under the plan's mocks: CRDs before every custom resource, charts pinned and on system nodes,
the keys only in a Secret (and `[secret]` in the plan), what the route and the policies attach to."""

from __future__ import annotations

import json

import pytest

from components.k8s.edge_crds import AI_GATEWAY_CRD_URLS, ENVOY_GATEWAY_CRD_URLS, GATEWAY_API_CRD_URLS, INFERENCE_EXTENSION_CRD_URLS
from components.k8s.edge_spec import API_KEYS_SECRET_NAME, EDGE_NAME
from infra.plan.engine import ProgramEvaluation, RecordedResource
from infra.plan.redact import SECRET_PLACEHOLDER
from infra.plan.render import kubernetes_objects, manifest_yaml, plan_document
from tests import upstream
from tests.edge_sample import MODELS, PLANTED_KEYS, SYSTEM_NODES, evaluate_sample
from tests.harness import inputs, of_type, one

CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup"
RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.fixture(scope="module")
def evaluation() -> ProgramEvaluation:
    return evaluate_sample()


def _custom_resources(ev: ProgramEvaluation) -> list[RecordedResource]:
    groups = ("gateway.networking.k8s.io", "gateway.envoyproxy.io", "aigateway.envoyproxy.io", "inference.networking.k8s.io")
    return [r for r in ev.resources if r.type.split(":")[1].split("/")[0] in groups]


def test_component_type_token(evaluation: ProgramEvaluation) -> None:
    assert [r.name for r in of_type(evaluation, "ai-serving:k8s:ServingEdge")] == ["edge"]


def test_crds_are_config_groups_of_the_pinned_releases(evaluation: ProgramEvaluation) -> None:
    files = {r.name: inputs(r)["files"] for r in of_type(evaluation, CONFIG_GROUP)}
    assert files == {
        "edge-gateway-api-crds": GATEWAY_API_CRD_URLS,
        "edge-inference-extension-crds": INFERENCE_EXTENSION_CRD_URLS,
        "edge-envoy-gateway-crds": ENVOY_GATEWAY_CRD_URLS,
        "edge-ai-gateway-crds": AI_GATEWAY_CRD_URLS,
    }
    # The standard channel's CRDs one by one: never a bundle with admission policies the preview role cannot dry-run.
    assert all("/v1.5.1/config/crd/standard/gateway.networking.k8s.io_" in u for u in GATEWAY_API_CRD_URLS)
    assert not any("vap" in u.lower() or "install" in u for u in GATEWAY_API_CRD_URLS)
    schemas = {p.name.split("gateway.networking.k8s.io_")[1] for p in upstream.SHARED.glob("schemas/crds/gateway-api-v1.5.1-*.yaml")}
    assert {u.rsplit("gateway.networking.k8s.io_", 1)[1] for u in GATEWAY_API_CRD_URLS} == schemas
    assert all("/v1.8.3/" in u for u in ENVOY_GATEWAY_CRD_URLS) and all("/v1.1.0/" in u for u in AI_GATEWAY_CRD_URLS)


def test_every_custom_resource_and_chart_depends_on_all_edge_crds(evaluation: ProgramEvaluation) -> None:
    crds = {r.urn for r in of_type(evaluation, CONFIG_GROUP)}
    dependents = [*_custom_resources(evaluation), *of_type(evaluation, RELEASE)]
    # 2 charts; EnvoyProxy, GatewayClass, Gateway, ClientTrafficPolicy; 2 pools; route, SecurityPolicy, BackendTrafficPolicy.
    assert len(dependents) == 2 + 4 + 2 + 3
    for r in dependents:
        assert crds <= set(r.dependencies), f"{r.type} {r.name} does not wait for the edge CRDs"
    by_name = {r.name: r for r in dependents}
    for name in ("edge-envoy-proxy", "edge-route", "edge-security-policy"):
        assert {by_name["edge-gateway-helm"].urn, by_name["edge-ai-gateway-helm"].urn} <= set(by_name[name].dependencies)


@pytest.mark.parametrize(("chart", "namespace"), [("gateway-helm", "envoy-gateway-system"), ("ai-gateway-helm", "envoy-ai-gateway-system")])
def test_charts_are_pinned_oci_and_skip_crds(evaluation: ProgramEvaluation, chart: str, namespace: str) -> None:
    release = inputs(one(evaluation, RELEASE, f"edge-{chart}"))
    assert release["chart"] == f"oci://docker.io/envoyproxy/{chart}" and release["version"] in ("v1.8.3", "v1.1.0")
    assert release["skipCrds"] is True and release["namespace"] == namespace


def test_controllers_run_on_system_nodes(evaluation: ProgramEvaluation) -> None:
    assert inputs(one(evaluation, RELEASE, "edge-gateway-helm"))["values"]["deployment"]["pod"]["nodeSelector"] == SYSTEM_NODES
    assert inputs(one(evaluation, RELEASE, "edge-ai-gateway-helm"))["values"]["controller"]["nodeSelector"] == SYSTEM_NODES


def test_api_keys_only_in_the_secret_and_secret_in_the_plan(evaluation: ProgramEvaluation) -> None:
    secret = one(evaluation, "kubernetes:core/v1:Secret", "edge-api-keys")
    assert inputs(secret)["metadata"]["name"] == API_KEYS_SECRET_NAME
    rendered = json.dumps(plan_document("ai-serving", "edge", evaluation)) + "".join(
        manifest_yaml(o) for o in kubernetes_objects(evaluation)
    )
    for keys in PLANTED_KEYS.values():
        for key in keys:
            assert key not in rendered
    (manifest,) = [o for o in kubernetes_objects(evaluation) if o.get("kind") == "Secret"]
    assert set(manifest["stringData"].values()) == {SECRET_PLACEHOLDER}


def test_policies_attach_to_the_generated_route(evaluation: ProgramEvaluation) -> None:
    route = inputs(one(evaluation, "kubernetes:aigateway.envoyproxy.io/v1beta1:AIGatewayRoute"))
    for typ in ("SecurityPolicy", "BackendTrafficPolicy"):
        policy = inputs(one(evaluation, f"kubernetes:gateway.envoyproxy.io/v1alpha1:{typ}"))
        assert policy["metadata"]["namespace"] == route["metadata"]["namespace"]
        assert policy["spec"]["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": EDGE_NAME}]
    assert route["metadata"]["name"] == EDGE_NAME


def test_one_pool_and_one_picker_per_model(evaluation: ProgramEvaluation) -> None:
    pools = of_type(evaluation, "kubernetes:inference.networking.k8s.io/v1:InferencePool")
    assert sorted(inputs(p)["metadata"]["name"] for p in pools) == sorted(m.name for m in MODELS)
    deployments = of_type(evaluation, "kubernetes:apps/v1:Deployment")
    assert sorted(inputs(d)["metadata"]["name"] for d in deployments) == sorted(f"{m.name}-epp" for m in MODELS)
