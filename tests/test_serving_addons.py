"""Serving add-ons: pinned charts with values in code, CRDs first, Alertmanager to Discord, alert rules."""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from components.k8s.rollout_notifications import NOTIFICATION_SECRET_KEY, NOTIFICATION_SECRET_NAME, notification_values
from components.k8s.serving_addon_values import (
    DISCORD_SECRET_KEY,
    DISCORD_SECRET_NAME,
    HEARTBEAT_SECRET_KEY,
    HEARTBEAT_SECRET_NAME,
    KUBE_PROMETHEUS_STACK,
    PROMETHEUS_URL,
    alertmanager_config,
    kube_prometheus_stack_values,
    prometheus_adapter_values,
)
from components.k8s.serving_addons import ServingAddons, ServingAddonsArgs
from infra.args.serving import alert_thresholds
from infra.config.serving import AlertThresholdsConfig
from infra.plan.engine import ProgramEvaluation
from infra.plan.redact import SECRET_PLACEHOLDER, redact
from tests.harness import inputs, of_type, one, run

WEBHOOK = "https://discord.com/api/webhooks/planted/secret"
HEARTBEAT = "https://hc-ping.example/planted-heartbeat-uuid"


def _evaluate(hf_token: str | None = "hf_planted", tier: str = "production", heartbeat: str | None = HEARTBEAT) -> ProgramEvaluation:
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        nodes = k8s.core.v1.ConfigMap(
            "nodes-ready", metadata={"name": "marker", "namespace": "default"}, opts=pulumi.ResourceOptions(provider=provider)
        )
        ServingAddons(
            "serving",
            ServingAddonsArgs(
                tier=tier,  # type: ignore[arg-type]
                stack="production",
                models_namespace="llm-serving",
                prometheus_retention_days=7,
                alerts=alert_thresholds(AlertThresholdsConfig()),
                discord_webhook_url=pulumi.Output.secret(WEBHOOK),
                runbook_page="https://github.com/example-org/ai-serving/blob/main/docs/serving.md",
                heartbeat_url=pulumi.Output.secret(heartbeat) if heartbeat else None,
                hf_token=pulumi.Output.secret(hf_token) if hf_token else None,
                depends_on=[nodes],
            ),
            opts=pulumi.ResourceOptions(provider=provider),
        )

    return run(program, region="us-east-1")


@pytest.fixture(scope="module")
def evaluation() -> ProgramEvaluation:
    return _evaluate()


def _release(ev: ProgramEvaluation, chart: str) -> dict[str, Any]:
    return inputs(one(ev, "kubernetes:helm.sh/v3:Release", f"serving-{chart}"))


@pytest.mark.parametrize(
    ("chart", "version", "namespace"),
    [
        ("argo-rollouts", "2.41.1", "argo-rollouts"),
        ("kube-prometheus-stack", "88.0.0", "monitoring"),
        ("prometheus-adapter", "5.3.0", "monitoring"),
        ("dcgm-exporter", "4.8.1", "monitoring"),
    ],
)
def test_charts_are_pinned_and_skip_their_crds(evaluation: ProgramEvaluation, chart: str, version: str, namespace: str) -> None:
    release = _release(evaluation, chart)
    assert (release["chart"], release["version"], release["namespace"], release["name"]) == (chart, version, namespace, chart)
    assert release["skipCrds"] is True and release["createNamespace"] is False
    assert release["repositoryOpts"]["repo"].startswith("https://")


def test_charts_do_not_install_crds_through_values(evaluation: ProgramEvaluation) -> None:
    assert _release(evaluation, "argo-rollouts")["values"]["installCRDs"] is False
    assert _release(evaluation, "kube-prometheus-stack")["values"]["crds"] == {"enabled": False}


@pytest.mark.parametrize(("chart", "crd_groups"), [("argo-rollouts", 2), ("kube-prometheus-stack", 2), ("dcgm-exporter", 2)])
def test_charts_with_custom_resources_wait_for_the_crds(evaluation: ProgramEvaluation, chart: str, crd_groups: int) -> None:
    release = one(evaluation, "kubernetes:helm.sh/v3:Release", f"serving-{chart}")
    crds = {r.urn for r in of_type(evaluation, "kubernetes:yaml/v2:ConfigGroup")}
    assert len(crds & set(release.dependencies)) == crd_groups


def test_everything_waits_for_the_nodes_and_uses_the_provider(evaluation: ProgramEvaluation) -> None:
    nodes = one(evaluation, "kubernetes:core/v1:ConfigMap", "nodes-ready").urn
    component = one(evaluation, "ai-serving:k8s:ServingAddons", "serving")
    children = [r for r in evaluation.resources if r.parent == component.urn]
    # 3 namespaces, 2 CRD groups, 4 Secrets (Alertmanager, heartbeat, rollout notifications, HF token), 4 releases,
    # the alert rules, 2 dashboards.
    assert len(children) == 16
    for child in children:
        assert nodes in child.dependencies, child.name
        assert child.provider is not None and child.provider.endswith("::k8s"), child.name


def test_alert_rules_wait_for_the_operator_crds(evaluation: ProgramEvaluation) -> None:
    rule = one(evaluation, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "serving-vllm-alerts")
    assert one(evaluation, "kubernetes:yaml/v2:ConfigGroup", "serving-prometheus-operator-crds").urn in rule.dependencies
    assert inputs(rule)["metadata"] == {
        "name": "ai-serving-vllm",
        "namespace": "monitoring",
        "labels": {"app.kubernetes.io/part-of": "ai-serving"},
    }


def test_discord_webhook_is_a_mounted_secret_never_a_helm_value(evaluation: ProgramEvaluation) -> None:
    secret = one(evaluation, "kubernetes:core/v1:Secret", "serving-alertmanager-discord")
    assert redact(secret.inputs)["stringData"] == {DISCORD_SECRET_KEY: SECRET_PLACEHOLDER}
    assert inputs(secret)["metadata"]["name"] == DISCORD_SECRET_NAME
    values = _release(evaluation, "kube-prometheus-stack")["values"]
    assert values["alertmanager"]["alertmanagerSpec"]["secrets"] == [DISCORD_SECRET_NAME, HEARTBEAT_SECRET_NAME]
    for release in of_type(evaluation, "kubernetes:helm.sh/v3:Release"):
        assert WEBHOOK not in str(release.inputs)
        assert HEARTBEAT not in str(release.inputs)
    kps = one(evaluation, "kubernetes:helm.sh/v3:Release", "serving-kube-prometheus-stack")
    assert secret.urn in kps.dependencies


def test_heartbeat_url_is_a_mounted_secret_and_optional(evaluation: ProgramEvaluation) -> None:
    secret = one(evaluation, "kubernetes:core/v1:Secret", "serving-alertmanager-heartbeat")
    assert redact(secret.inputs)["stringData"] == {HEARTBEAT_SECRET_KEY: SECRET_PLACEHOLDER}
    assert inputs(secret)["metadata"] == {**inputs(secret)["metadata"], "name": HEARTBEAT_SECRET_NAME, "namespace": "monitoring"}
    kps = one(evaluation, "kubernetes:helm.sh/v3:Release", "serving-kube-prometheus-stack")
    assert secret.urn in kps.dependencies
    [receiver] = [
        r
        for r in _release(evaluation, "kube-prometheus-stack")["values"]["alertmanager"]["config"]["receivers"]
        if r["name"] == "heartbeat"
    ]
    assert receiver["webhook_configs"] == [
        {"url_file": f"/etc/alertmanager/secrets/{HEARTBEAT_SECRET_NAME}/{HEARTBEAT_SECRET_KEY}", "send_resolved": False}
    ]

    without = _evaluate(heartbeat=None)
    assert not [r for r in of_type(without, "kubernetes:core/v1:Secret") if r.name == "serving-alertmanager-heartbeat"]
    values = _release(without, "kube-prometheus-stack")["values"]["alertmanager"]
    assert values["alertmanagerSpec"]["secrets"] == [DISCORD_SECRET_NAME]
    assert "heartbeat" not in {r["name"] for r in values["config"]["receivers"]}


def test_alertmanager_routes_to_discord_from_the_mounted_file() -> None:
    config = alertmanager_config(heartbeat=False)
    assert config["route"]["receiver"] == "discord"
    [discord] = [r for r in config["receivers"] if r["name"] == "discord"]
    assert discord["discord_configs"] == [
        {"webhook_url_file": f"/etc/alertmanager/secrets/{DISCORD_SECRET_NAME}/{DISCORD_SECRET_KEY}", "send_resolved": True}
    ]


def test_hf_token_secret_only_when_a_model_needs_it() -> None:
    with_token = _evaluate()
    secret = one(with_token, "kubernetes:core/v1:Secret", "serving-huggingface-token")
    assert inputs(secret)["metadata"]["namespace"] == "llm-serving"
    assert redact(secret.inputs)["stringData"] == {"token": SECRET_PLACEHOLDER}
    without = _evaluate(hf_token=None)
    assert not [r for r in of_type(without, "kubernetes:core/v1:Secret") if r.name == "serving-huggingface-token"]


def test_namespaces_enforce_pod_security(evaluation: ProgramEvaluation) -> None:
    levels = {
        inputs(r)["metadata"]["name"]: inputs(r)["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        for r in of_type(evaluation, "kubernetes:core/v1:Namespace")
    }
    assert levels == {"llm-serving": "restricted", "monitoring": "privileged", "argo-rollouts": "baseline"}


def test_prometheus_picks_up_monitors_and_rules_of_every_namespace() -> None:
    spec = kube_prometheus_stack_values("staging", 3)["prometheus"]["prometheusSpec"]
    assert spec["retention"] == "3d"
    for key in ("serviceMonitorSelectorNilUsesHelmValues", "podMonitorSelectorNilUsesHelmValues", "ruleSelectorNilUsesHelmValues"):
        assert spec[key] is False


def test_adapter_queries_the_stacks_prometheus_with_our_rule_only() -> None:
    # What the rule selects and serves is read as PromQL in test_metric_queries.py.
    values = prometheus_adapter_values("production")
    assert len(values["rules"]["custom"]) == 1
    assert values["rules"]["default"] is False
    # The Service kube-prometheus-stack names <fullname>-prometheus, in the chart's namespace; the canary gate's too.
    kps = kube_prometheus_stack_values("production", 7)
    service = f"http://{kps['fullnameOverride']}-prometheus.{KUBE_PROMETHEUS_STACK.namespace}.svc"
    assert (values["prometheus"]["url"], values["prometheus"]["port"]) == (service, 9090)
    assert f"{service}:9090" == PROMETHEUS_URL


def test_production_runs_controllers_twice() -> None:
    assert kube_prometheus_stack_values("production", 15)["alertmanager"]["alertmanagerSpec"]["replicas"] == 2
    assert prometheus_adapter_values("staging")["replicas"] == 1


def test_alertmanager_repeats_critical_hourly_warnings_twice_a_day_and_the_heartbeat_every_minute() -> None:
    route = alertmanager_config(heartbeat=True)["route"]
    assert (route["receiver"], route["repeat_interval"]) == ("discord", "12h")
    by_matcher = {tuple(r["matchers"]): r for r in route["routes"]}
    assert by_matcher[('severity = "critical"',)] == {"receiver": "discord", "matchers": ['severity = "critical"'], "repeat_interval": "1h"}
    heartbeat = by_matcher[('alertname = "Watchdog"',)]
    assert (heartbeat["receiver"], heartbeat["group_interval"], heartbeat["repeat_interval"]) == ("heartbeat", "1m", "1m")
    # The Watchdog route comes first: nothing else may catch the heartbeat.
    assert route["routes"][0] is heartbeat
    assert alertmanager_config(heartbeat=False)["route"]["routes"][0]["receiver"] == "null"


def test_rollout_notifications_get_the_discord_webhook_from_a_secret_of_the_controller(evaluation: ProgramEvaluation) -> None:
    secret = one(evaluation, "kubernetes:core/v1:Secret", "serving-rollouts-notifications")
    metadata = inputs(secret)["metadata"]
    assert (metadata["name"], metadata["namespace"]) == (NOTIFICATION_SECRET_NAME, "argo-rollouts")
    # The controller only reads a notification Secret carrying its component label.
    assert metadata["labels"]["app.kubernetes.io/component"] == "rollouts-controller"
    assert redact(secret.inputs)["stringData"] == {NOTIFICATION_SECRET_KEY: SECRET_PLACEHOLDER}
    values = inputs(one(evaluation, "kubernetes:helm.sh/v3:Release", "serving-argo-rollouts"))["values"]
    notifications = values["notifications"]
    assert notifications["secret"] == {"create": False}
    assert WEBHOOK not in json.dumps(values)
    service = yaml.safe_load(notifications["notifiers"]["service.webhook.discord"])
    assert service["url"] == f"${NOTIFICATION_SECRET_KEY}"


def test_every_rollout_event_is_subscribed_and_names_stack_model_version_and_image() -> None:
    values = notification_values("production")
    [subscription] = values["subscriptions"]
    assert subscription["recipients"] == ["discord:deploys"]
    assert set(subscription["triggers"]) >= {"on-rollout-updated", "on-rollout-completed", "on-rollout-aborted", "on-analysis-run-failed"}
    for trigger in subscription["triggers"]:
        [rule] = yaml.safe_load(values["triggers"][f"trigger.{trigger}"])
        [template] = rule["send"]
        body = yaml.safe_load(values["templates"][f"template.{template}"])["webhook"]["discord"]["body"]
        # One template action builds the content; the JSON around it is literal.
        [action] = re.findall(r"\{\{(.*?)\}\}", body)
        assert json.loads(body.replace("{{" + action + "}}", '"content"'))["allowed_mentions"] == {"parse": []}
        assert action.strip().endswith("| toJson")
        for part in ("stack `production`", ".rollout.metadata.name", '"ai-serving/model-version"', "containers 0).image"):
            assert part in action
