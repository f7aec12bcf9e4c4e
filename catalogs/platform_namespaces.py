"""Namespaces the platform itself runs in. Components create them; the config refuses Argo CD applications that
target them; Argo CD's AppProject denies them. One list, so the three cannot drift apart."""

from __future__ import annotations

MONITORING_NAMESPACE = "monitoring"
ROLLOUTS_NAMESPACE = "argo-rollouts"
DEVICE_PLUGIN_NAMESPACE = "nvidia-device-plugin"
# The Cluster Autoscaler, the load balancer controller and ExternalDNS run in kube-system.
AUTOSCALER_NAMESPACE = "kube-system"
ENVOY_GATEWAY_NAMESPACE = "envoy-gateway-system"
AI_GATEWAY_NAMESPACE = "envoy-ai-gateway-system"
LOGGING_NAMESPACE = "logging"

# Listed whether or not the stack enables the add-on, so enabling one later cannot find an application already there.
PLATFORM_NAMESPACES = frozenset(
    {
        MONITORING_NAMESPACE,
        ROLLOUTS_NAMESPACE,
        DEVICE_PLUGIN_NAMESPACE,
        AUTOSCALER_NAMESPACE,
        ENVOY_GATEWAY_NAMESPACE,
        AI_GATEWAY_NAMESPACE,
        LOGGING_NAMESPACE,
    }
)
