"""A quiet healthy EKS cluster: kube-prometheus-stack, as each stack's plan installs it, scrapes nothing EKS does
not expose and keeps none of the default rule groups that would alert on those missing targets."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from components.k8s.monitoring_values import UNSCRAPEABLE_ON_EKS, UNUSED_RULE_GROUPS
from components.k8s.serving_addon_values import KUBE_PROMETHEUS_STACK
from tests import upstream
from tests.harness import checked_in_plan, inputs

STACKS = ["staging", "production"]
# Each component's default rule groups (the chart's defaultRules.rules keys) and the alert the issue saw firing.
CONTROL_PLANE = {
    "kubeControllerManager": ["kubeControllerManager"],
    "kubeScheduler": ["kubeSchedulerAlerting", "kubeSchedulerRecording"],
    "kubeEtcd": ["etcd"],
    "kubeProxy": ["kubeProxy"],
}


def _kps_values(stack: str) -> dict[str, Any]:
    [release] = [
        r
        for r in checked_in_plan(stack).evaluation.resources
        if r.type == "kubernetes:helm.sh/v3:Release" and inputs(r)["chart"] == KUBE_PROMETHEUS_STACK.name
    ]
    values: dict[str, Any] = inputs(release)["values"]
    return values


@functools.cache
def _chart_defaults() -> dict[str, Any]:
    return upstream.chart_values(KUBE_PROMETHEUS_STACK.name, KUBE_PROMETHEUS_STACK.version)


def test_the_chart_scrapes_and_alerts_on_the_control_plane_by_default() -> None:
    """Why the values below are needed: the pinned chart turns every one of these on."""
    defaults = _chart_defaults()
    for component, groups in CONTROL_PLANE.items():
        assert defaults[component]["enabled"] is True
        assert all(defaults["defaultRules"]["rules"][g] is True for g in groups)


@pytest.mark.parametrize("stack", STACKS)
def test_what_eks_does_not_expose_is_neither_scraped_nor_alerted_on(stack: str) -> None:
    values = _kps_values(stack)
    rules = values["defaultRules"]["rules"]
    for component, groups in CONTROL_PLANE.items():
        assert values[component]["enabled"] is False, f"{stack}: {component} is still scraped"
        assert all(rules[g] is False for g in groups), f"{stack}: {component}'s default rules are still installed"
    assert rules["windows"] is False
    # Everything else keeps the chart's defaults (API server, kubelet, CoreDNS, nodes, kube-state-metrics ...).
    disabled = {g for g, on in rules.items() if on is False}
    assert disabled == {g for groups in CONTROL_PLANE.values() for g in groups} | set(UNUSED_RULE_GROUPS)
    assert values["defaultRules"].get("create", True) is True
    assert "kubeApiServer" not in values and "kubelet" not in values and "coreDns" not in values


def test_every_disabled_rule_group_is_one_the_pinned_chart_has() -> None:
    """A misspelt key would be ignored by Helm and the rules would stay."""
    chart_groups = set(_chart_defaults()["defaultRules"]["rules"])
    assert {g for groups in UNSCRAPEABLE_ON_EKS.values() for g in groups} | set(UNUSED_RULE_GROUPS) <= chart_groups
    assert set(UNSCRAPEABLE_ON_EKS) <= set(_chart_defaults())
