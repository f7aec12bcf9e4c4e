"""kube-prometheus-stack values for an EKS cluster (what can be scraped there) and for Grafana (dashboards from
ConfigMaps). Merged into `serving_addon_values.kube_prometheus_stack_values`.

Pure data; the dashboards themselves are in `grafana_dashboards`.
"""

from __future__ import annotations

from typing import Any

# Components of the chart that EKS does not let Prometheus scrape, with the default rule groups that read them.
# - kube-controller-manager, kube-scheduler, etcd: run in the AWS-managed control plane; no pod or endpoint in
#   the cluster serves their /metrics, so their ServiceMonitors find no target and `KubeControllerManagerDown`,
#   `KubeSchedulerDown` (critical) and the etcd alerts would fire from the first day.
# - kube-proxy: the EKS add-on binds its metrics to 127.0.0.1:10249, so `KubeProxyDown` (critical) fires. Making it
#   listen on 0.0.0.0 would publish an unauthenticated endpoint on every node's VPC address for a component whose
#   failure the node and Service alerts already show; not scraped instead.
UNSCRAPEABLE_ON_EKS: dict[str, tuple[str, ...]] = {
    "kubeControllerManager": ("kubeControllerManager",),
    "kubeScheduler": ("kubeSchedulerAlerting", "kubeSchedulerRecording"),
    "kubeEtcd": ("etcd",),
    "kubeProxy": ("kubeProxy",),
}
# No Windows nodes: their rule groups would only evaluate over nothing.
UNUSED_RULE_GROUPS = ("windows",)

# The Grafana sidecar files a dashboard ConfigMap into the folder named by this annotation.
DASHBOARD_FOLDER_ANNOTATION = "grafana_folder"
# The label kube-prometheus-stack 88.0.0 configures its Grafana sidecar to collect dashboards by
# (grafana.sidecar.dashboards.label / labelValue; searchNamespace ALL).
DASHBOARD_LABEL = ("grafana_dashboard", "1")
# The Prometheus datasource the chart provisions (grafana.sidecar.datasources.uid).
PROMETHEUS_DATASOURCE_UID = "prometheus"


def eks_scrape_values() -> dict[str, Any]:
    """Turn off the scrapes EKS cannot serve and the default rule groups that alert on them."""
    values: dict[str, Any] = {component: {"enabled": False} for component in UNSCRAPEABLE_ON_EKS}
    disabled_groups = [g for groups in UNSCRAPEABLE_ON_EKS.values() for g in groups] + list(UNUSED_RULE_GROUPS)
    values["defaultRules"] = {"rules": dict.fromkeys(disabled_groups, False)}
    return values


def grafana_values() -> dict[str, Any]:
    return {
        # Empty: the Grafana chart generates a random admin password into its Secret (not the chart's default).
        "adminPassword": "",
        "sidecar": {
            "dashboards": {
                "folderAnnotation": DASHBOARD_FOLDER_ANNOTATION,
                # Folders come from the annotation; dashboards stay read-only in the UI (changes go through git).
                "provider": {"foldersFromFilesStructure": True, "allowUiUpdates": False},
            }
        },
    }
