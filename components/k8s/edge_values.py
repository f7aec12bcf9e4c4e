"""The edge's charts and their values: Envoy Gateway (the Gateway API controller) and Envoy AI Gateway (the
OpenAI-aware extension Envoy Gateway calls while translating routes, and the ext-proc it injects into Envoy).

Pure functions and constants; `edge_gateway.ServingEdge` installs them. Every key set here exists in the pinned
chart's values (tests/test_edge_gateway.py reads ../shared/data/helm-values).
"""

from __future__ import annotations

from typing import Any

import pulumi

from catalogs.platform_namespaces import AI_GATEWAY_NAMESPACE as AI_GATEWAY_NAMESPACE
from catalogs.platform_namespaces import ENVOY_GATEWAY_NAMESPACE as ENVOY_GATEWAY_NAMESPACE

from .charts import Chart
from .edge_crds import AI_GATEWAY_VERSION, ENVOY_GATEWAY_VERSION
from .serving_addon_values import Tier

ENVOY_GATEWAY = Chart("gateway-helm", ENVOY_GATEWAY_VERSION, "oci://docker.io/envoyproxy", ENVOY_GATEWAY_NAMESPACE)
AI_GATEWAY = Chart("ai-gateway-helm", AI_GATEWAY_VERSION, "oci://docker.io/envoyproxy", AI_GATEWAY_NAMESPACE)
GATEWAY_CONTROLLER_NAME = "gateway.envoyproxy.io/gatewayclass-controller"
# controller.fullnameOverride of ai-gateway-helm (its default): names the extension server's Service.
AI_GATEWAY_CONTROLLER = "ai-gateway-controller"
# The controller's gRPC extension server (ai-gateway-helm controller.service.ports "grpc").
AI_GATEWAY_EXTENSION_PORT = 1063


def _replicas(tier: Tier) -> int:
    return 2 if tier == "production" else 1


def rate_limit_values(redis_url: pulumi.Input[str], node_selector: dict[str, str]) -> dict[str, Any]:
    """`config.envoyGateway` keys that make Envoy Gateway run its rate limit service against `redis_url` (host:port).

    The Redis only accepts TLS. Envoy Gateway's `redis.tls` setting also mounts a client-certificate volume that
    exists only with a `certificateRef` (mutual TLS, which ElastiCache does not use), so TLS is switched on by the
    rate limit service's own `REDIS_TLS` variable instead, on its Deployment (server certificate checked against the
    image's CA bundle).
    """
    return {
        "rateLimit": {"backend": {"type": "Redis", "redis": {"url": redis_url}}},
        "provider": {
            "type": "Kubernetes",
            "kubernetes": {
                "rateLimitDeployment": {
                    "pod": {"nodeSelector": node_selector},
                    "container": {"env": [{"name": "REDIS_TLS", "value": "true"}]},
                }
            },
        },
    }


def envoy_gateway_values(tier: Tier, node_selector: dict[str, str], redis_url: pulumi.Input[str] | None = None) -> dict[str, Any]:
    """`redis_url` set: global and token limits (`rate_limit_values`)."""
    values: dict[str, Any] = {
        # The CRDs are Pulumi resources (edge_crds): the chart's bundle holds the experimental Gateway API channel.
        "crds": {"enabled": False},
        "deployment": {"replicas": _replicas(tier), "pod": {"nodeSelector": node_selector}},
        "podDisruptionBudget": {"minAvailable": 1 if tier == "production" else 0},
        "config": {
            "envoyGateway": {
                "gateway": {"controllerName": GATEWAY_CONTROLLER_NAME},
                "provider": {"type": "Kubernetes"},
                "logging": {"level": {"default": "info"}},
                # What the AI Gateway's translation relies on (upstream manifests/envoy-gateway-values.yaml).
                "extensionApis": {"enableEnvoyPatchPolicy": True, "enableBackend": True},
                "extensionManager": {
                    "hooks": {
                        "xdsTranslator": {
                            "translation": {
                                "listener": {"includeAll": True},
                                "route": {"includeAll": True},
                                "cluster": {"includeAll": True},
                                "secret": {"includeAll": True},
                            },
                            "post": ["Translation", "Cluster", "Route"],
                        }
                    },
                    "service": {
                        "fqdn": {
                            "hostname": f"{AI_GATEWAY_CONTROLLER}.{AI_GATEWAY_NAMESPACE}.svc.cluster.local",
                            "port": AI_GATEWAY_EXTENSION_PORT,
                        }
                    },
                    # Without it a route to an InferencePool is rejected (ResolvedRefs=False, InvalidKind).
                    "backendResources": [{"group": "inference.networking.k8s.io", "kind": "InferencePool", "version": "v1"}],
                },
            }
        },
    }
    if redis_url is not None:
        values["config"]["envoyGateway"].update(rate_limit_values(redis_url, node_selector))
    return values


def ai_gateway_values(tier: Tier, node_selector: dict[str, str]) -> dict[str, Any]:
    return {
        "controller": {
            "replicaCount": _replicas(tier),
            "podDisruptionBudget": {"enabled": tier == "production"},
            "nodeSelector": node_selector,
        },
        "envoyGateway": {"namespace": ENVOY_GATEWAY_NAMESPACE},
    }
