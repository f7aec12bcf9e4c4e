"""Cluster add-ons the served models rely on: Argo Rollouts, kube-prometheus-stack (Prometheus, Alertmanager to
Discord, Grafana with the models' and GPUs' dashboards), prometheus-adapter (the HPA's queue metric), DCGM
exporter, the vLLM/GPU alert rules, the models' namespace and the Hugging Face token Secret.

CRDs are Pulumi resources declared first (from the upstream release matching each pinned chart), and every
chart and custom resource depends on them, so a first `pulumi up` on an empty cluster succeeds in one pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.k8s.objects import custom_resource

from .charts import pinned_release
from .grafana_dashboards import dashboard_config_maps
from .rollout_notifications import NOTIFICATION_SECRET_KEY, notification_secret_metadata
from .serving_addon_values import (
    ARGO_ROLLOUTS,
    ARGO_ROLLOUTS_CRD_URLS,
    DCGM_EXPORTER,
    DISCORD_SECRET_KEY,
    DISCORD_SECRET_NAME,
    HEARTBEAT_SECRET_KEY,
    HEARTBEAT_SECRET_NAME,
    HF_TOKEN_SECRET_NAME,
    KUBE_PROMETHEUS_STACK,
    MONITORING_NAMESPACE,
    PROMETHEUS_ADAPTER,
    PROMETHEUS_OPERATOR_CRD_URLS,
    PROMETHEUS_URL,
    ROLLOUTS_NAMESPACE,
    AlertThresholds,
    Tier,
    argo_rollouts_values,
    dcgm_exporter_values,
    kube_prometheus_stack_values,
    namespace,
    prometheus_adapter_values,
    serving_alert_rules,
)
from .vllm_pod import HF_TOKEN_SECRET_KEY


@dataclass(frozen=True)
class ServingAddonsArgs:
    tier: Tier
    # The Pulumi stack, named in the rollout notifications.
    stack: str
    # Namespace of the model servers (created here, Pod Security "restricted").
    models_namespace: str
    # Prometheus keeps metrics this long.
    prometheus_retention_days: int
    alerts: AlertThresholds
    discord_webhook_url: pulumi.Input[str]
    # The on-call page every alert's runbook_url points into (docs/serving.md on the repository's host).
    runbook_page: str
    # The dead man's switch: where Alertmanager pings with the Watchdog; None routes the Watchdog nowhere.
    heartbeat_url: pulumi.Input[str] | None = None
    # None when no model comes from Hugging Face.
    hf_token: pulumi.Input[str] | None = None
    # What must exist before anything is applied to the cluster (the nodes the charts' pods run on).
    depends_on: Sequence[pulumi.Resource] = ()


class ServingAddons(pulumi.ComponentResource):
    rollouts_crds: k8s.yaml.v2.ConfigGroup
    monitoring_crds: k8s.yaml.v2.ConfigGroup
    models_namespace: str
    monitoring_namespace: str
    prometheus_url: str
    hf_token_secret: str | None
    # What a model's objects wait for: its namespace and the Hugging Face token Secret.
    models_namespace_ready: list[pulumi.Resource]
    releases: dict[str, k8s.helm.v3.Release]

    def __init__(self, name: str, args: ServingAddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:k8s:ServingAddons", name, None, opts)
        after = list(args.depends_on)
        child = pulumi.ResourceOptions(parent=self, depends_on=after)
        models_ns = args.models_namespace

        namespaces = {
            # node-exporter and dcgm-exporter need host access.
            MONITORING_NAMESPACE: _object(f"{name}-ns-monitoring", namespace(MONITORING_NAMESPACE, "privileged"), child),
            ROLLOUTS_NAMESPACE: _object(f"{name}-ns-rollouts", namespace(ROLLOUTS_NAMESPACE, "baseline"), child),
            models_ns: _object(f"{name}-ns-models", namespace(models_ns, "restricted"), child),
        }
        self.rollouts_crds = k8s.yaml.v2.ConfigGroup(f"{name}-argo-rollouts-crds", files=ARGO_ROLLOUTS_CRD_URLS, opts=child)
        self.monitoring_crds = k8s.yaml.v2.ConfigGroup(f"{name}-prometheus-operator-crds", files=PROMETHEUS_OPERATOR_CRD_URLS, opts=child)
        crds = [self.rollouts_crds, self.monitoring_crds]

        def alertmanager_secret(suffix: str, secret_name: str, key: str, value: pulumi.Input[str]) -> k8s.core.v1.Secret:
            """A URL Alertmanager reads from a mounted file (`*_file` in its config), never from its values."""
            return k8s.core.v1.Secret(
                f"{name}-alertmanager-{suffix}",
                metadata={"name": secret_name, "namespace": MONITORING_NAMESPACE, "labels": {"app.kubernetes.io/part-of": "ai-serving"}},
                type="Opaque",
                string_data={key: pulumi.Output.secret(value)},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*after, namespaces[MONITORING_NAMESPACE]]),
            )

        alert_secrets: list[pulumi.Resource] = [
            alertmanager_secret("discord", DISCORD_SECRET_NAME, DISCORD_SECRET_KEY, args.discord_webhook_url)
        ]
        if args.heartbeat_url is not None:
            alert_secrets.append(alertmanager_secret("heartbeat", HEARTBEAT_SECRET_NAME, HEARTBEAT_SECRET_KEY, args.heartbeat_url))
        # The same webhook for the Argo Rollouts controller's notifications, in its namespace.
        notification_metadata: Any = notification_secret_metadata(ROLLOUTS_NAMESPACE)
        rollout_notifications = k8s.core.v1.Secret(
            f"{name}-rollouts-notifications",
            metadata=notification_metadata,
            type="Opaque",
            string_data={NOTIFICATION_SECRET_KEY: pulumi.Output.secret(args.discord_webhook_url)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*after, namespaces[ROLLOUTS_NAMESPACE]]),
        )
        self.hf_token_secret = None
        self.models_namespace_ready = [namespaces[models_ns]]
        if args.hf_token is not None:
            hf_secret = k8s.core.v1.Secret(
                f"{name}-huggingface-token",
                metadata={"name": HF_TOKEN_SECRET_NAME, "namespace": models_ns, "labels": {"app.kubernetes.io/part-of": "ai-serving"}},
                type="Opaque",
                string_data={HF_TOKEN_SECRET_KEY: pulumi.Output.secret(args.hf_token)},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*after, namespaces[models_ns]]),
            )
            self.hf_token_secret = HF_TOKEN_SECRET_NAME
            self.models_namespace_ready.append(hf_secret)

        ns_monitoring = namespaces[MONITORING_NAMESPACE]
        kps = pinned_release(
            self,
            name,
            KUBE_PROMETHEUS_STACK,
            kube_prometheus_stack_values(args.tier, args.prometheus_retention_days, heartbeat=args.heartbeat_url is not None),
            [*after, *crds, ns_monitoring, *alert_secrets],
        )
        self.releases = {
            "argo-rollouts": pinned_release(
                self,
                name,
                ARGO_ROLLOUTS,
                argo_rollouts_values(args.tier, args.stack),
                [*after, *crds, namespaces[ROLLOUTS_NAMESPACE], rollout_notifications],
            ),
            "kube-prometheus-stack": kps,
            # Queries the Prometheus that kube-prometheus-stack runs.
            "prometheus-adapter": pinned_release(
                self, name, PROMETHEUS_ADAPTER, prometheus_adapter_values(args.tier), [*after, ns_monitoring, kps]
            ),
            "dcgm-exporter": pinned_release(self, name, DCGM_EXPORTER, dcgm_exporter_values(), [*after, *crds, ns_monitoring]),
        }
        rules = serving_alert_rules("ai-serving-vllm", models_ns, args.alerts, args.runbook_page)
        custom_resource(
            f"{name}-vllm-alerts", rules, pulumi.ResourceOptions(parent=self, depends_on=[*after, self.monitoring_crds, ns_monitoring])
        )

        # Dashboards: the Grafana sidecar of kube-prometheus-stack loads them from these ConfigMaps.
        for config_map in dashboard_config_maps(models_ns):
            k8s.core.v1.ConfigMap(
                f"{name}-{config_map['metadata']['name']}",
                metadata=config_map["metadata"],
                data=config_map["data"],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*after, ns_monitoring]),
            )

        self.models_namespace = models_ns
        self.monitoring_namespace = MONITORING_NAMESPACE
        self.prometheus_url = PROMETHEUS_URL
        self.register_outputs(
            {
                "modelsNamespace": self.models_namespace,
                "prometheusUrl": self.prometheus_url,
                "releases": {k: r.status for k, r in self.releases.items()},
            }
        )


def _object(logical_name: str, obj: dict[str, Any], opts: pulumi.ResourceOptions) -> k8s.core.v1.Namespace:
    return k8s.core.v1.Namespace(logical_name, metadata=obj["metadata"], opts=opts)
