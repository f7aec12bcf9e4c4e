"""CRDs come from pinned upstream releases: a release tag (never a branch), the app version of the chart pinned
with them, and every custom resource kind the program or its charts create, installed before those resources.

Checked on the offline plans of both stacks, so a CRD source or custom resource added anywhere is covered.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

import pytest

from infra.plan.engine import RecordedResource
from infra.plan.render import is_kubernetes_object
from infra.plan.run import Plan
from tests import upstream
from tests.harness import checked_in_plan, inputs

STACKS = ["staging", "production"]
CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup"
RELEASE = "kubernetes:helm.sh/v3:Release"

# (chart, chart version) -> the app version that chart deploys: the release whose CRDs must be installed with it.
APP_VERSIONS = {
    # Chart.yaml appVersion at argoproj/argo-helm tag argo-rollouts-2.41.1; the note in
    # ../shared/data/helm-values/argo-rollouts-2.41.1/SOURCE says the same (checked below).
    ("argo-rollouts", "2.41.1"): "v1.9.1",
    # Chart.yaml appVersion at prometheus-community/helm-charts tag kube-prometheus-stack-88.0.0 (commit b5a2d18,
    # see its SOURCE); the chart's prometheusOperator.image.tag is empty, so the operator runs that version.
    ("kube-prometheus-stack", "88.0.0"): "v0.93.0",
    # Chart.yaml appVersion at argoproj/argo-helm tag argo-cd-9.5.16 (commit f3aa47c, see its SOURCE); its
    # global.image.tag is empty, so Argo CD runs that version.
    ("argo-cd", "9.5.16"): "v3.4.3",
    # The Envoy charts are versioned with their app: chart gateway-helm v1.8.3 runs Envoy Gateway v1.8.3
    # (../shared/data/helm-values/gateway-helm-v1.8.3/SOURCE: image docker.io/envoyproxy/gateway:v1.8.3), and
    # ai-gateway-helm v1.1.0 the AI Gateway controller v1.1.0 (its image tag defaults to the chart's appVersion).
    ("gateway-helm", "v1.8.3"): "v1.8.3",
    ("ai-gateway-helm", "v1.1.0"): "v1.1.0",
}
# API definitions no chart runs: their CRDs are pinned to the release of the compatible set in ../shared/schemas
# (Gateway API 1.5.1 and Inference Extension 1.0.2, which Envoy Gateway 1.8 and AI Gateway 1.1 implement).
API_RELEASES = {"kubernetes-sigs/gateway-api": "v1.5.1", "kubernetes-sigs/gateway-api-inference-extension": "v1.0.2"}
# Release files that hold several CRDs: (repository, file) -> the API groups whose kinds they define.
BUNDLES = {
    ("kubernetes-sigs/gateway-api-inference-extension", "manifests.yaml"): {"inference.networking.k8s.io", "inference.networking.x-k8s.io"},
}
# GitHub repository a CRD manifest comes from -> the chart that runs that app.
CRD_REPOSITORIES = {
    "argoproj/argo-rollouts": "argo-rollouts",
    "prometheus-operator/prometheus-operator": "kube-prometheus-stack",
    "argoproj/argo-cd": "argo-cd",
    "envoyproxy/gateway": "gateway-helm",
    "envoyproxy/ai-gateway": "ai-gateway-helm",
}
# Project names of ../shared/schemas/crds -> GitHub repository.
SCHEMA_PROJECTS = {
    "argo-rollouts": "argoproj/argo-rollouts",
    "prometheus-operator": "prometheus-operator/prometheus-operator",
    "argo-cd": "argoproj/argo-cd",
    "envoy-gateway": "envoyproxy/gateway",
    "envoy-ai-gateway": "envoyproxy/ai-gateway",
    "gateway-api": "kubernetes-sigs/gateway-api",
    "gateway-api-inference-extension": "kubernetes-sigs/gateway-api-inference-extension",
}
MONITORING = "monitoring.coreos.com"
# Custom resources kube-prometheus-stack creates with its default values (Helm installs none of their CRDs:
# every release sets skipCrds).
CHART_KINDS = {
    "kube-prometheus-stack": {
        (MONITORING, "Prometheus"),
        (MONITORING, "Alertmanager"),
        (MONITORING, "ServiceMonitor"),
        (MONITORING, "PrometheusRule"),
    }
}
# Operator kinds ../shared has no schema for: (repository, CRD file key).
KINDS_WITHOUT_SCHEMA = {
    (MONITORING, "Prometheus"): ("prometheus-operator/prometheus-operator", "prometheuses"),
    (MONITORING, "Alertmanager"): ("prometheus-operator/prometheus-operator", "alertmanagers"),
}
# Where each chart sets the image tag of the app whose CRDs it needs.
APP_IMAGE_TAGS = {
    "argo-rollouts": ("controller", "image", "tag"),
    "kube-prometheus-stack": ("prometheusOperator", "image", "tag"),
    "argo-cd": ("global", "image", "tag"),
    "gateway-helm": ("deployment", "envoyGateway", "image", "tag"),
    "ai-gateway-helm": ("controller", "image", "tag"),
}
RAW_GITHUB = re.compile(r"https://raw\.githubusercontent\.com/(?P<repo>[\w.-]+/[\w.-]+)/(?P<ref>[^/]+)/(?P<path>.+\.yaml)")
RELEASE_DOWNLOAD = re.compile(r"https://github\.com/(?P<repo>[\w.-]+/[\w.-]+)/releases/download/(?P<ref>[^/]+)/(?P<path>[^/]+\.yaml)")
RELEASE_TAG = re.compile(r"v\d+\.\d+\.\d+")


@pytest.fixture(scope="module")
def plans() -> dict[str, Plan]:
    return {stack: checked_in_plan(stack) for stack in STACKS}


def _of_type(plan: Plan, typ: str) -> list[RecordedResource]:
    return [r for r in plan.evaluation.resources if r.type == typ]


def _crd_sources(plan: Plan) -> list[tuple[RecordedResource, re.Match[str]]]:
    sources = []
    for group in _of_type(plan, CONFIG_GROUP):
        for url in inputs(group)["files"]:
            match = RAW_GITHUB.fullmatch(url) or RELEASE_DOWNLOAD.fullmatch(url)
            assert match, f"{group.name}: {url} is neither a raw.githubusercontent.com file nor a release asset of a repository"
            sources.append((group, match))
    return sources


@pytest.mark.parametrize("stack", STACKS)
def test_crds_are_fetched_from_release_tags(plans: dict[str, Plan], stack: str) -> None:
    sources = _crd_sources(plans[stack])
    assert {url["repo"] for _, url in sources} >= set(CRD_REPOSITORIES)
    for group, url in sources:
        # A branch (master, main, HEAD) or a commit would install whatever CRDs it holds, not the running release's.
        assert RELEASE_TAG.fullmatch(url["ref"]), f"{group.name}: {url[0]} is not fetched from a release tag"


@pytest.mark.parametrize("stack", STACKS)
def test_crd_release_is_the_app_version_of_the_pinned_chart(plans: dict[str, Plan], stack: str) -> None:
    charts = {_chart_name(inputs(r)["chart"]): inputs(r)["version"] for r in _of_type(plans[stack], RELEASE)}
    for group, url in _crd_sources(plans[stack]):
        if url["repo"] in API_RELEASES:
            assert url["ref"] == API_RELEASES[url["repo"]], f"{group.name}: {url['repo']} {url['ref']} is not the pinned API release"
            continue
        assert url["repo"] in CRD_REPOSITORIES, f"{group.name}: which chart runs {url['repo']}? add it to CRD_REPOSITORIES"
        chart = CRD_REPOSITORIES[url["repo"]]
        assert chart in charts, f"{group.name}: CRDs of {url['repo']} but no {chart} chart is installed"
        pinned = (chart, charts[chart])
        assert pinned in APP_VERSIONS, f"{chart} {charts[chart]}: add its appVersion (from its Chart.yaml) to APP_VERSIONS"
        assert url["ref"] == APP_VERSIONS[pinned], (
            f"{group.name}: CRDs of {url['ref']}, but chart {chart} {charts[chart]} runs {APP_VERSIONS[pinned]}"
        )


def test_app_versions_agree_with_the_upstream_chart_data() -> None:
    for (chart, version), app_version in APP_VERSIONS.items():
        note = upstream.chart_source(chart, version).get("note", "")
        assert re.findall(r"appVersion (v[\d.]+)", note) in ([], [app_version]), f"{chart} {version}: {note}"


def _chart_name(chart: str) -> str:
    """A chart's name: `oci://docker.io/envoyproxy/gateway-helm` is the chart gateway-helm."""
    return chart.rsplit("/", 1)[-1] if chart.startswith("oci://") else chart


def _get(values: Any, path: tuple[str, ...]) -> Any:
    """The value at `path`, None where it is not set."""
    for key in path:
        values = values.get(key) if isinstance(values, dict) else None
    return values


@pytest.mark.parametrize("stack", STACKS)
def test_charts_with_crd_sources_run_their_app_version(plans: dict[str, Plan], stack: str) -> None:
    # The app's image tag defaults to the chart's appVersion; neither the chart nor our values may pin another,
    # or the CRDs installed for APP_VERSIONS would belong to a different release than the running controller.
    for release in _of_type(plans[stack], RELEASE):
        chart, version, values = (inputs(release)[k] for k in ("chart", "version", "values"))
        chart = _chart_name(chart)
        if chart in APP_IMAGE_TAGS:
            assert _get(upstream.chart_values(chart, version), APP_IMAGE_TAGS[chart]) == "", (chart, version)
            assert _get(values, APP_IMAGE_TAGS[chart]) in (None, ""), f"{release.name} overrides the {chart} image tag"


def _crd_file(group: str, kind: str) -> tuple[str, str, frozenset[str] | None]:
    """(repository, CRD file key, served versions when known) of the CRD that defines group/kind."""
    schema = upstream.crd_schema_for(group, kind)
    if schema is None:
        assert (group, kind) in KINDS_WITHOUT_SCHEMA, f"{group}/{kind}: no CRD schema in ../shared/schemas/crds"
        repo, file_key = KINDS_WITHOUT_SCHEMA[group, kind]
        return repo, file_key, None
    return SCHEMA_PROJECTS[schema.project], schema.file_key, schema.served_versions


def _custom_kinds(resource: RecordedResource) -> list[tuple[str, str, str | None]]:
    """(group, kind, version) of the custom resources a resource of the plan creates."""
    if resource.type == RELEASE:
        values = inputs(resource)
        kinds = set(CHART_KINDS.get(values["chart"], set()))
        if _enables_service_monitor(values["values"]):
            kinds.add((MONITORING, "ServiceMonitor"))
        return [(group, kind, None) for group, kind in sorted(kinds)]
    if not is_kubernetes_object(resource):
        return []
    obj = inputs(resource)
    group, _, version = obj["apiVersion"].rpartition("/")
    built_in = "." not in group or (group.endswith(".k8s.io") and upstream.crd_schema_for(group, obj["kind"]) is None)
    return [] if built_in else [(group, obj["kind"], version)]


def _enables_service_monitor(values: Any) -> bool:
    if isinstance(values, dict):
        if isinstance(values.get("serviceMonitor"), dict) and values["serviceMonitor"].get("enabled") is True:
            return True
        return any(_enables_service_monitor(v) for v in values.values())
    return False


@pytest.mark.parametrize("stack", STACKS)
def test_every_custom_resource_kind_has_its_crd_installed_first(plans: dict[str, Plan], stack: str) -> None:
    plan = plans[stack]
    installed = {}
    bundled = {}
    for config_group, url in _crd_sources(plan):
        file_name = PurePosixPath(url["path"]).name
        for api_group in BUNDLES.get((url["repo"], file_name), set()):
            bundled[url["repo"], api_group] = config_group
        installed[url["repo"], upstream.crd_file_key(file_name)] = config_group
    created = [(r, *kind) for r in plan.evaluation.resources for kind in _custom_kinds(r)]
    assert {(g, k) for _, g, k, _ in created} >= {("argoproj.io", "Rollout"), (MONITORING, "PodMonitor"), (MONITORING, "ServiceMonitor")}
    for resource, group, kind, version in created:
        repo, file_key, served = _crd_file(group, kind)
        crds = installed.get((repo, file_key)) or bundled.get((repo, group))
        assert crds is not None, f"{resource.name} creates {group}/{kind}, but no CRD source installs {repo}'s {file_key} CRD"
        assert crds.urn in resource.dependencies, f"{resource.name} ({kind}) does not wait for {crds.name}"
        if version is not None and served is not None:
            assert version in served, f"{resource.name}: {group}/{version} {kind} is not served (served: {sorted(served)})"
