"""The endpoint picker (EPP) of one model's InferencePool, rendered here rather than by the `inferencepool` chart.

The chart (v1.0.2) renders the same objects (Deployment, Service, ServiceAccount, Role/RoleBinding, plugins
ConfigMap, named `<pool>-epp`, selector label `inferencepool: <pool>-epp`), but its Deployment sets no
securityContext, resources or nodeSelector and its values offer no key for them: its pods would be rejected by the
models' namespace, which enforces Pod Security "restricted". The names, labels, ports, arguments and the default
plugins configuration below are the chart's; only the hardening is added.
"""

from __future__ import annotations

from typing import Any

from .edge_crds import INFERENCE_EXTENSION_VERSION
from .edge_routing import EPP_EXT_PROC_PORT, INFERENCE_GROUP, endpoint_picker_name
from .edge_spec import EDGE_ROLE_LABEL, ENDPOINT_PICKER_ROLE, ENVOY_PROXY_ROLE, GATEWAY_NAMESPACE, RoutedModel

EPP_HEALTH_PORT = 9003
EPP_METRICS_PORT = 9090
PLUGINS_FILE = "default-plugins.yaml"
# The chart's default scheduling: queue depth, KV-cache use and prefix-cache hits, weighted 2:2:3.
DEFAULT_PLUGINS = """apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
- type: kv-cache-utilization-scorer
- type: prefix-cache-scorer
schedulingProfiles:
- name: default
  plugins:
  - pluginRef: queue-scorer
    weight: 2
  - pluginRef: kv-cache-utilization-scorer
    weight: 2
  - pluginRef: prefix-cache-scorer
    weight: 3
"""
_UID = 65532


def epp_selector(model: RoutedModel) -> dict[str, str]:
    return {"inferencepool": endpoint_picker_name(model)}


def _meta(model: RoutedModel, name: str | None = None) -> dict[str, Any]:
    labels = {
        "app.kubernetes.io/name": endpoint_picker_name(model),
        "app.kubernetes.io/version": INFERENCE_EXTENSION_VERSION,
        "app.kubernetes.io/part-of": "ai-serving",
        "app.kubernetes.io/managed-by": "pulumi",
    }
    return {"name": name or endpoint_picker_name(model), "namespace": model.namespace, "labels": labels}


def epp_service_account(model: RoutedModel) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(model)}


def epp_role(model: RoutedModel) -> dict[str, Any]:
    read = ["get", "watch", "list"]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(model),
        "rules": [
            {"apiGroups": ["inference.networking.x-k8s.io"], "resources": ["inferenceobjectives", "inferencemodelrewrites"], "verbs": read},
            {"apiGroups": [INFERENCE_GROUP], "resources": ["inferencepools"], "verbs": read},
            # The picker tracks the pool's pods and scrapes their metrics.
            {"apiGroups": [""], "resources": ["pods"], "verbs": read},
        ],
    }


def epp_role_binding(model: RoutedModel) -> dict[str, Any]:
    name = endpoint_picker_name(model)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(model),
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": model.namespace}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
    }


def epp_config_map(model: RoutedModel) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(model), "data": {PLUGINS_FILE: DEFAULT_PLUGINS}}


def epp_service(model: RoutedModel) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(model),
        "spec": {
            "type": "ClusterIP",
            "selector": epp_selector(model),
            "ports": [
                {"name": "grpc-ext-proc", "protocol": "TCP", "port": EPP_EXT_PROC_PORT, "appProtocol": "http2"},
                {"name": "http-metrics", "protocol": "TCP", "port": EPP_METRICS_PORT},
            ],
        },
    }


def epp_network_policy(model: RoutedModel) -> dict[str, Any]:
    """Only the edge's Envoy proxies call the picker (ext-proc); its metrics port stays closed until something
    scrapes it."""
    envoy = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": GATEWAY_NAMESPACE}},
        "podSelector": {"matchLabels": {EDGE_ROLE_LABEL: ENVOY_PROXY_ROLE}},
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(model),
        "spec": {
            "podSelector": {"matchLabels": epp_selector(model)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [envoy], "ports": [{"protocol": "TCP", "port": EPP_EXT_PROC_PORT}]}],
        },
    }


def _probe() -> dict[str, Any]:
    return {"grpc": {"port": EPP_HEALTH_PORT, "service": "inference-extension"}, "initialDelaySeconds": 5, "periodSeconds": 10}


def epp_deployment(model: RoutedModel, node_selector: dict[str, str], image: str) -> dict[str, Any]:
    name = endpoint_picker_name(model)
    meta = _meta(model)
    waivers = ["CKV_K8S_38=the picker watches its pool and the pool's pods through the API server (Role in this namespace)"]
    if "@sha256:" not in image:
        waivers.append("CKV_K8S_43=staging runs the picker's release tag; production pins its digest (platformImageDigests)")
    meta["annotations"] = {f"checkov.io/skip{i}": waiver for i, waiver in enumerate(waivers, start=1)}
    container = {
        "name": "epp",
        "image": image,
        "imagePullPolicy": "Always",
        "args": [
            "--pool-name",
            model.name,
            "--pool-group",
            INFERENCE_GROUP,
            "--zap-encoder",
            "json",
            "--config-file",
            f"/config/{PLUGINS_FILE}",
            "--v",
            "1",
        ],
        "ports": [
            {"name": "grpc", "containerPort": EPP_EXT_PROC_PORT},
            {"name": "grpc-health", "containerPort": EPP_HEALTH_PORT},
            {"name": "metrics", "containerPort": EPP_METRICS_PORT},
        ],
        "livenessProbe": _probe(),
        "readinessProbe": _probe(),
        "env": [{"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
        "resources": {"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": _UID,
            "runAsGroup": _UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": "plugins-config-volume", "mountPath": "/config", "readOnly": True}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            # The picker keeps its view of the pods in memory; the chart runs one replica (no leader election).
            "replicas": 1,
            "selector": {"matchLabels": epp_selector(model)},
            "template": {
                "metadata": {
                    "labels": {**epp_selector(model), EDGE_ROLE_LABEL: ENDPOINT_PICKER_ROLE, "app.kubernetes.io/part-of": "ai-serving"}
                },
                "spec": {
                    "serviceAccountName": name,
                    # As the chart: mirrors the longest grace period of the pods in the pool.
                    "terminationGracePeriodSeconds": 130,
                    "nodeSelector": node_selector,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": _UID,
                        "runAsGroup": _UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [{"name": "plugins-config-volume", "configMap": {"name": name}}],
                },
            },
        },
    }


def endpoint_picker_objects(model: RoutedModel, node_selector: dict[str, str], image: str) -> list[dict[str, Any]]:
    """In apply order: identity and configuration before the Deployment that uses them."""
    return [
        epp_service_account(model),
        epp_role(model),
        epp_role_binding(model),
        epp_config_map(model),
        epp_service(model),
        epp_network_policy(model),
        epp_deployment(model, node_selector, image),
    ]
