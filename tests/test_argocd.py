"""Argo CD: chart values, the AppProject and Applications built from config, CRD ordering, config rules."""

from __future__ import annotations

import copy
import dataclasses
import functools
from typing import Any

import pulumi_kubernetes as k8s
import pytest

from catalogs.platform_namespaces import PLATFORM_NAMESPACES
from components.k8s.argocd import (
    CHART_REPO,
    CHART_VERSION,
    CRD_URLS,
    IN_CLUSTER,
    ApplicationSpec,
    ArgoCd,
    ArgoCdArgs,
    app_project,
    application,
    chart_values,
)
from infra.args.delivery import argocd_args, platform_namespaces
from infra.config import ConfigError, load_stack_config
from infra.config.delivery import ArgoCdConfig
from tests.harness import inputs, of_type, one, run, stack_config

GATEWAY = ApplicationSpec("gateway", "https://github.com/example-org/apps.git", "gateway/overlays/staging", "v1.2.0", "gateway")
RAG = ApplicationSpec("rag-api", "https://github.com/example-org/rag.git", "deploy", "main", "rag")
ARGS = ArgoCdArgs("argocd", False, "ai-serving-apps", "apps", (GATEWAY, RAG))


def test_application_syncs_automatically_with_prune_self_heal_and_bounded_retries() -> None:
    spec = application(GATEWAY, "ai-serving-apps", "argocd")["spec"]
    assert spec["source"] == {"repoURL": GATEWAY.repo_url, "path": GATEWAY.path, "targetRevision": "v1.2.0"}
    assert spec["destination"] == {"server": IN_CLUSTER, "namespace": "gateway"}
    policy = spec["syncPolicy"]
    assert policy["automated"] == {"prune": True, "selfHeal": True}
    assert policy["syncOptions"] == ["CreateNamespace=true"]
    assert policy["retry"] == {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}}


def test_application_lives_in_argocd_namespace_and_cascades_deletes() -> None:
    metadata = application(GATEWAY, "p", "argocd")["metadata"]
    assert metadata["namespace"] == "argocd"
    assert metadata["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]


def test_project_allows_exactly_the_configured_repos_and_namespaces() -> None:
    spec = app_project("ai-serving-apps", "apps", "argocd", (GATEWAY, RAG, GATEWAY))["spec"]
    assert spec["sourceRepos"] == [GATEWAY.repo_url, RAG.repo_url]
    allowed = [d for d in spec["destinations"] if not d["namespace"].startswith("!")]
    assert allowed == [{"server": IN_CLUSTER, "namespace": "gateway"}, {"server": IN_CLUSTER, "namespace": "rag"}]
    assert "*" not in str(spec)
    # Only the Namespaces CreateNamespace=true needs; no ClusterRoles, CRDs or webhooks from app repos.
    assert spec["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]


def test_project_denies_argocd_and_the_platform_namespaces_on_the_in_cluster_server() -> None:
    spec = app_project("p", "apps", "argocd", (GATEWAY, RAG), ("monitoring", "llm-serving"))["spec"]
    denied = {d["namespace"][1:] for d in spec["destinations"] if d["namespace"].startswith("!")}
    assert denied == {"argocd", "monitoring", "llm-serving"}
    assert {d["server"] for d in spec["destinations"]} == {IN_CLUSTER}


def test_project_refuses_an_application_in_a_platform_namespace() -> None:
    monitoring_app = dataclasses.replace(GATEWAY, namespace="monitoring")
    with pytest.raises(ValueError, match="monitoring"):
        app_project("p", "apps", "argocd", (monitoring_app,), ("monitoring",))


def _register(args: ArgoCdArgs) -> None:
    ArgoCd("argocd", args)


def test_rendered_project_of_each_stack_denies_every_platform_namespace() -> None:
    for stack, region in (("staging", "us-west-2"), ("production", "us-east-1")):
        cfg = load_stack_config(stack_config(stack), region)
        assert cfg.argocd is not None and cfg.serving is not None
        args = argocd_args(cfg.argocd, platform_namespaces(cfg))
        ev = run(functools.partial(_register, args), stack=stack)
        project = next(r for r in of_type(ev, "kubernetes:argoproj.io/v1alpha1:AppProject"))
        denied = {d["namespace"][1:] for d in inputs(project)["spec"]["destinations"] if d["namespace"].startswith("!")}
        platform = {
            "monitoring",
            "argo-rollouts",
            "nvidia-device-plugin",
            "kube-system",
            "envoy-gateway-system",
            "envoy-ai-gateway-system",
            "logging",
        }
        assert denied == platform | {cfg.serving.namespace, cfg.argocd.namespace}, stack


def test_server_is_not_exposed_and_crds_come_from_outside_the_chart() -> None:
    for ha in (False, True):
        values = chart_values(ha)
        assert values["server"]["service"]["type"] == "ClusterIP"
        assert values["server"]["ingress"]["enabled"] is False
        assert values["crds"]["install"] is False


def test_high_availability_values() -> None:
    assert "redis-ha" not in chart_values(False)
    values = chart_values(True)
    assert values["redis-ha"]["enabled"] is True
    assert values["server"]["replicas"] >= 2 and values["repoServer"]["replicas"] >= 2
    assert values["applicationSet"]["replicas"] >= 2
    assert values["server"]["pdb"]["enabled"] is True


def _argocd() -> None:
    ArgoCd("argocd", ARGS)


def test_component_pins_the_chart_and_orders_crds_before_custom_resources() -> None:
    ev = run(_argocd)
    release = one(ev, "kubernetes:helm.sh/v3:Release")
    rel = inputs(release)
    assert (rel["chart"], rel["version"], rel["repositoryOpts"]["repo"]) == ("argo-cd", CHART_VERSION, CHART_REPO)
    assert rel["namespace"] == "argocd" and rel["skipCrds"] is True
    crds = one(ev, "kubernetes:yaml/v2:ConfigGroup")
    # Which release those files come from is checked against the chart in test_crd_sources.py.
    assert inputs(crds)["files"] == list(CRD_URLS)
    namespace = one(ev, "kubernetes:core/v1:Namespace")
    assert inputs(namespace)["metadata"]["name"] == "argocd"
    assert crds.urn in release.dependencies
    custom = of_type(ev, "kubernetes:argoproj.io/v1alpha1:AppProject") + of_type(ev, "kubernetes:argoproj.io/v1alpha1:Application")
    assert len(custom) == 3
    for resource in custom:
        assert {crds.urn, release.urn, namespace.urn} <= set(resource.dependencies)
        assert inputs(resource)["metadata"]["namespace"] == "argocd"
        assert resource.parent == one(ev, "ai-serving:k8s:ArgoCd").urn


def test_component_declares_one_application_per_config_entry() -> None:
    ev = run(_argocd)
    apps = {inputs(r)["metadata"]["name"]: inputs(r)["spec"] for r in of_type(ev, "kubernetes:argoproj.io/v1alpha1:Application")}
    assert set(apps) == {"gateway", "rag-api"}
    assert apps["rag-api"]["source"]["repoURL"] == RAG.repo_url
    assert apps["rag-api"]["project"] == "ai-serving-apps"


# --- config ---------------------------------------------------------------------------------------------------


def _app(**overrides: Any) -> dict[str, Any]:
    return {"name": "gateway", "repoUrl": "https://github.com/example-org/apps.git", "path": "gateway", "namespace": "gateway", **overrides}


def test_config_maps_to_component_args() -> None:
    cfg = ArgoCdConfig.model_validate({"highAvailability": True, "applications": [_app(targetRevision="v1")]})
    args = argocd_args(cfg, ("monitoring",))
    assert args.high_availability and args.namespace == "argocd"
    assert args.applications == (ApplicationSpec("gateway", "https://github.com/example-org/apps.git", "gateway", "v1", "gateway"),)


@pytest.mark.parametrize(
    ("app", "fragment"),
    [
        (_app(repoUrl="https://github.com/example-org/*"), "repoUrl"),
        (_app(repoUrl="http://github.com/example-org/apps.git"), "repoUrl"),
        (_app(path="../other"), "path"),
        (_app(namespace="kube-system"), "kube-system"),
        (_app(namespace="argocd"), "argocd"),
    ],
)
def test_config_rejects_unsafe_applications(app: dict[str, Any], fragment: str) -> None:
    raw = copy.deepcopy(stack_config("staging"))
    raw["argocd"] = {"applications": [app]}
    with pytest.raises(ConfigError) as err:
        load_stack_config(raw, "us-west-2")
    assert any("ai-serving:argocd" in str(p) and fragment in str(p) for p in err.value.problems), err.value


def test_config_rejects_duplicate_application_names() -> None:
    raw = copy.deepcopy(stack_config("staging"))
    raw["argocd"] = {"applications": [_app(), _app(namespace="other")]}
    with pytest.raises(ConfigError, match="unique"):
        load_stack_config(raw, "us-west-2")


def test_production_requires_high_availability() -> None:
    raw = copy.deepcopy(stack_config("production"))
    raw["argocd"] = {**raw.get("argocd", {}), "highAvailability": False}
    with pytest.raises(ConfigError) as err:
        load_stack_config(raw, "us-east-1")
    assert "ai-serving:argocd.highAvailability: got False; must be true when tier is production" in [str(p) for p in err.value.problems]


def test_high_availability_needs_three_system_nodes() -> None:
    raw = copy.deepcopy(stack_config("staging"))
    raw["argocd"] = {"highAvailability": True}
    with pytest.raises(ConfigError) as err:
        load_stack_config(raw, "us-west-2")
    assert any(str(p).startswith("ai-serving:cluster.systemNodeGroup.scaling.minSize: got 2;") for p in err.value.problems)


def test_checked_in_stacks_install_argocd_with_tier_appropriate_settings() -> None:
    staging = load_stack_config(stack_config("staging"), "us-west-2").argocd
    production = load_stack_config(stack_config("production"), "us-east-1").argocd
    assert staging is not None and production is not None
    assert (staging.high_availability, production.high_availability) == (False, True)
    assert production.applications, "production delivers at least one application through Argo CD"


def test_the_chart_waits_for_the_nodes_its_pods_need() -> None:
    def program() -> None:
        nodes = k8s.core.v1.Namespace("nodes-ready", metadata={"name": "stand-in-for-node-groups"})
        ArgoCd("argocd", dataclasses.replace(ARGS, depends_on=[nodes]))

    ev = run(program)
    nodes = one(ev, "kubernetes:core/v1:Namespace", "nodes-ready")
    assert nodes.urn in one(ev, "kubernetes:helm.sh/v3:Release").dependencies


@pytest.mark.parametrize("namespace", ["llm-serving", *sorted(PLATFORM_NAMESPACES)])
def test_applications_may_not_deploy_into_the_platform_namespaces(namespace: str) -> None:
    """A config error (exit 2, one line), not a failure inside the program: the AppProject denies them too."""
    raw = copy.deepcopy(stack_config("production"))
    assert raw["serving"]["namespace"] == "llm-serving"
    raw["argocd"]["applications"][0]["namespace"] = namespace
    with pytest.raises(ConfigError) as err:
        load_stack_config(raw, "us-east-1")
    [problem] = err.value.problems
    assert problem.path.startswith("ai-serving:argocd") and namespace in str(problem)
    # kube-system is refused by the Argo CD section itself (a cluster namespace); the others by the platform rule.
    if namespace != "kube-system":
        assert problem.path == "ai-serving:argocd.applications[0].namespace" and "the platform runs there" in problem.allowed
