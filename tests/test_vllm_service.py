"""The VllmService component under the plan's mocks: what it registers, in which order, with which provider."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.k8s.vllm_model import S3Weights, VllmModel
from components.k8s.vllm_service import IrsaTrust, VllmService, VllmServiceArgs, s3_read_policy
from infra.args.serving import vllm_model
from infra.config.serving import ModelConfig
from infra.plan.engine import ProgramEvaluation, RecordedResource
from tests.harness import inputs, of_type, one, run, stack_config

OIDC_URL = "https://oidc.eks.us-east-1.amazonaws.com/id/ABC123"
OIDC_ARN = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC123"


def _spec(**changes: Any) -> VllmModel:
    return vllm_model(ModelConfig.model_validate({**stack_config("production")["models"][0], **changes}))


def _evaluate(spec: VllmModel, irsa: bool = False) -> ProgramEvaluation:
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        rollout_crds = k8s.yaml.v2.ConfigGroup(
            "rollout-crds", files=["https://example.invalid/crds.yaml"], opts=pulumi.ResourceOptions(provider=provider)
        )
        monitoring_crds = k8s.yaml.v2.ConfigGroup(
            "monitoring-crds", files=["https://example.invalid/m.yaml"], opts=pulumi.ResourceOptions(provider=provider)
        )
        namespace = k8s.core.v1.Namespace("ns", metadata={"name": "llm-serving"}, opts=pulumi.ResourceOptions(provider=provider))
        VllmService(
            spec.name,
            VllmServiceArgs(
                model=spec,
                namespace="llm-serving",
                cluster_name="ai-serving-production",
                prometheus_url="http://prometheus.monitoring.svc:9090",
                monitoring_namespace="monitoring",
                hf_token_secret=None if isinstance(spec.weights, S3Weights) else "huggingface-token",
                irsa=IrsaTrust(OIDC_ARN, OIDC_URL) if irsa else None,
                rollouts_crds=[rollout_crds],
                monitoring_crds=[monitoring_crds],
                depends_on=[namespace],
            ),
            opts=pulumi.ResourceOptions(provider=provider),
        )

    return run(program, region="us-east-1")


@pytest.fixture(scope="module")
def evaluation() -> ProgramEvaluation:
    return _evaluate(_spec())


def _urn(ev: ProgramEvaluation, typ: str, name: str) -> str:
    return one(ev, typ, name).urn


KUBERNETES_OBJECTS = [
    ("kubernetes:argoproj.io/v1alpha1:Rollout", "qwen-7b-rollout", "qwen-7b"),
    ("kubernetes:argoproj.io/v1alpha1:AnalysisTemplate", "qwen-7b-canary-gate", "qwen-7b-canary-gate"),
    ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "qwen-7b-hpa", "qwen-7b"),
    ("kubernetes:policy/v1:PodDisruptionBudget", "qwen-7b-pdb", "qwen-7b"),
    ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "qwen-7b-netpol", "qwen-7b"),
    ("kubernetes:core/v1:ServiceAccount", "qwen-7b-sa", "qwen-7b"),
    ("kubernetes:core/v1:ConfigMap", "qwen-7b-record", "qwen-7b-serving-record"),
    ("kubernetes:core/v1:Service", "qwen-7b-svc-all", "qwen-7b"),
    ("kubernetes:core/v1:Service", "qwen-7b-svc-stable", "qwen-7b-stable"),
    ("kubernetes:core/v1:Service", "qwen-7b-svc-canary", "qwen-7b-canary"),
    ("kubernetes:monitoring.coreos.com/v1:PodMonitor", "qwen-7b-podmonitor", "qwen-7b"),
]


@pytest.mark.parametrize(("typ", "logical", "k8s_name"), KUBERNETES_OBJECTS)
def test_every_object_is_named_namespaced_and_uses_the_given_provider(
    evaluation: ProgramEvaluation, typ: str, logical: str, k8s_name: str
) -> None:
    resource = one(evaluation, typ, logical)
    assert inputs(resource)["metadata"]["name"] == k8s_name
    assert inputs(resource)["metadata"]["namespace"] == "llm-serving"
    assert resource.provider is not None and resource.provider.endswith("::k8s")
    # Every object waits for the namespace (and token Secret) it lives in.
    assert _urn(evaluation, "kubernetes:core/v1:Namespace", "ns") in resource.dependencies


def test_component_registers_its_children_and_nothing_else(evaluation: ProgramEvaluation) -> None:
    component = one(evaluation, "ai-serving:k8s:VllmService", "qwen-7b")
    children = [r for r in evaluation.resources if r.parent == component.urn]
    assert sorted((r.type, r.name) for r in children) == sorted((t, n) for t, n, _ in KUBERNETES_OBJECTS)
    assert not of_type(evaluation, "aws:iam/role:Role")


def test_custom_resources_wait_for_their_crds(evaluation: ProgramEvaluation) -> None:
    rollout_crds = _urn(evaluation, "kubernetes:yaml/v2:ConfigGroup", "rollout-crds")
    monitoring_crds = _urn(evaluation, "kubernetes:yaml/v2:ConfigGroup", "monitoring-crds")
    for typ, name, _ in KUBERNETES_OBJECTS:
        deps = one(evaluation, typ, name).dependencies
        if typ.startswith("kubernetes:argoproj.io/"):
            assert rollout_crds in deps, name
        if typ.startswith("kubernetes:monitoring.coreos.com/"):
            assert monitoring_crds in deps, name
    rollout = one(evaluation, "kubernetes:argoproj.io/v1alpha1:Rollout", "qwen-7b-rollout")
    # Argo needs the AnalysisTemplate and both Services when it reconciles the first revision.
    for typ, name in [
        ("kubernetes:argoproj.io/v1alpha1:AnalysisTemplate", "qwen-7b-canary-gate"),
        ("kubernetes:core/v1:Service", "qwen-7b-svc-stable"),
        ("kubernetes:core/v1:Service", "qwen-7b-svc-canary"),
    ]:
        assert _urn(evaluation, typ, name) in rollout.dependencies


def test_rollout_replicas_are_not_owned_by_pulumi(evaluation: ProgramEvaluation) -> None:
    rollout = one(evaluation, "kubernetes:argoproj.io/v1alpha1:Rollout", "qwen-7b-rollout")
    assert "replicas" not in inputs(rollout)["spec"]
    hpa = inputs(one(evaluation, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "qwen-7b-hpa"))
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "qwen-7b"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)


def test_rollout_gates_the_canary_with_the_analysis_template(evaluation: ProgramEvaluation) -> None:
    rollout = inputs(one(evaluation, "kubernetes:argoproj.io/v1alpha1:Rollout", "qwen-7b-rollout"))
    template = inputs(one(evaluation, "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate", "qwen-7b-canary-gate"))
    steps = rollout["spec"]["strategy"]["canary"]["steps"]
    assert steps[0] == {"setWeight": 50}
    assert steps[1]["analysis"]["templates"] == [{"templateName": template["metadata"]["name"]}]
    assert [m["name"] for m in template["spec"]["metrics"]] == ["error-ratio", "ttft-p95-seconds"]


def test_pod_uses_the_token_secret_and_no_service_account_token(evaluation: ProgramEvaluation) -> None:
    pod = inputs(one(evaluation, "kubernetes:argoproj.io/v1alpha1:Rollout", "qwen-7b-rollout"))["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert [v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v] == ["huggingface-token"]
    assert inputs(one(evaluation, "kubernetes:core/v1:ServiceAccount", "qwen-7b-sa"))["automountServiceAccountToken"] is False


def test_s3_weights_get_an_irsa_role_limited_to_their_prefix() -> None:
    ev = _evaluate(_spec(source="s3://weights-bucket/qwen/7b-instruct/", revision=None), irsa=True)
    role = one(ev, "aws:iam/role:Role", "qwen-7b-weights-role")
    trust = json.loads(inputs(role)["assumeRolePolicy"])
    condition = trust["Statement"][0]["Condition"]["StringEquals"]
    assert condition["oidc.eks.us-east-1.amazonaws.com/id/ABC123:sub"] == "system:serviceaccount:llm-serving:qwen-7b"
    assert trust["Statement"][0]["Principal"] == {"Federated": OIDC_ARN}
    policy = json.loads(inputs(one(ev, "aws:iam/rolePolicy:RolePolicy", "qwen-7b-weights-read"))["policy"])
    assert policy == s3_read_policy("weights-bucket", "qwen/7b-instruct")
    assert policy["Statement"][0]["Resource"] == ["arn:aws:s3:::weights-bucket/qwen/7b-instruct/*"]
    sa = inputs(one(ev, "kubernetes:core/v1:ServiceAccount", "qwen-7b-sa"))
    assert sa["automountServiceAccountToken"] is True
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
    pod = inputs(one(ev, "kubernetes:argoproj.io/v1alpha1:Rollout", "qwen-7b-rollout"))["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True
    assert not [v for v in pod["volumes"] if "secret" in v]


def test_s3_weights_without_the_oidc_provider_are_refused() -> None:
    with pytest.raises(Exception, match="needs the cluster's OIDC provider"):
        _evaluate(_spec(source="s3://weights-bucket/qwen/7b-instruct/", revision=None), irsa=False)


def test_client_service_selects_stable_and_canary_pods(evaluation: ProgramEvaluation) -> None:
    # Without a traffic router the canary weight is the pod ratio behind this Service, so it must not pin a hash.
    service = inputs(one(evaluation, "kubernetes:core/v1:Service", "qwen-7b-svc-all"))
    assert service["metadata"]["name"] == "qwen-7b"
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "qwen-7b", "app.kubernetes.io/component": "vllm-server"}


def test_services_are_applied_without_waiting_for_endpoints(evaluation: ProgramEvaluation) -> None:
    rollout = one(evaluation, "kubernetes:argoproj.io/v1alpha1:Rollout", "qwen-7b-rollout")
    for role in ("all", "stable", "canary"):
        service = one(evaluation, "kubernetes:core/v1:Service", f"qwen-7b-svc-{role}")
        # The Rollout (which creates the pods) waits for the Services, so they must not wait for the pods.
        assert service.urn in rollout.dependencies
        assert inputs(service)["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"


def _dependency_names(ev: ProgramEvaluation, resource: RecordedResource) -> set[str]:
    by_urn = {r.urn: r.name for r in ev.resources}
    return {by_urn[d] for d in resource.dependencies if d in by_urn}


def test_hpa_waits_for_the_rollout(evaluation: ProgramEvaluation) -> None:
    hpa = one(evaluation, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "qwen-7b-hpa")
    assert "qwen-7b-rollout" in _dependency_names(evaluation, hpa)
