"""Routing by model: one AIGatewayRoute whose rules send each served model name to that model's InferencePool, and
the InferencePools (each selects the model's stable and canary pods; its endpoint picker chooses one by queue
depth and KV-cache use). Plain dicts; `edge_gateway` registers them.

The AI Gateway generates an HTTPRoute of the same name from the AIGatewayRoute, plus a last `route-not-found` rule
answering 404: a model that has no rule here is not routable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .edge_spec import EDGE_NAME, GATEWAY_NAMESPACE, MODEL_HEADER, TOTAL_TOKENS_METADATA_KEY, EdgeTimeouts, RoutedModel

AI_GATEWAY_API = "aigateway.envoyproxy.io/v1beta1"
INFERENCE_API = "inference.networking.k8s.io/v1"
INFERENCE_GROUP = "inference.networking.k8s.io"
# The endpoint picker's ext-proc port (the inferencepool chart's inferenceExtension.extProcPort).
EPP_EXT_PROC_PORT = 9002
# One slot of an AIGatewayRoute's 16 is the controller's catch-all.
MAX_RULES = 15
# Argo Rollouts' label of one ReplicaSet's pods (the canary analysis selects by it; the pool never does).
POD_TEMPLATE_HASH_LABEL = "rollouts-pod-template-hash"


def endpoint_picker_name(model: RoutedModel) -> str:
    """The chart's name for a pool's picker: the release (= pool) name cut to 40 characters, then `-epp`."""
    return f"{model.name[:40]}-epp"


def route_namespace(models: Sequence[RoutedModel]) -> str:
    """The route and the policies on it live with the pools they reference: one namespace for all routed models,
    so no cross-namespace reference (and ReferenceGrant) is needed."""
    namespaces = sorted({m.namespace for m in models})
    if len(namespaces) != 1:
        raise ValueError(f"the edge routes models of exactly one namespace, got {namespaces or 'no models'}")
    if len(models) > MAX_RULES:
        raise ValueError(f"one AIGatewayRoute holds at most {MAX_RULES} models, got {len(models)}")
    served = [m.served_model_name for m in models]
    if len(set(served)) != len(served):
        raise ValueError(f"served model names must be unique: {served}")
    return namespaces[0]


def _labels() -> dict[str, str]:
    return {"app.kubernetes.io/part-of": "ai-serving", "app.kubernetes.io/managed-by": "pulumi"}


def ai_gateway_route(models: Sequence[RoutedModel], timeouts: EdgeTimeouts, *, count_tokens: bool = False) -> dict[str, Any]:
    """`count_tokens`: the ext-proc writes each answer's total tokens into dynamic metadata, which the global token
    limit charges (`edge_policies.global_rate_limit_rules`)."""
    namespace = route_namespace(models)
    route: dict[str, Any] = {
        "apiVersion": AI_GATEWAY_API,
        "kind": "AIGatewayRoute",
        "metadata": {"name": EDGE_NAME, "namespace": namespace, "labels": _labels()},
        "spec": {
            "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": EDGE_NAME, "namespace": GATEWAY_NAMESPACE}],
            "rules": [
                {
                    "name": m.name,
                    "matches": [{"headers": [{"type": "Exact", "name": MODEL_HEADER, "value": m.served_model_name}]}],
                    "backendRefs": [{"group": INFERENCE_GROUP, "kind": "InferencePool", "name": m.name}],
                    # The AI Gateway's default is 60 s: far too short for a long generation.
                    "timeouts": {"request": f"{timeouts.request_seconds}s"},
                    "streamIdleTimeout": f"{timeouts.stream_idle_seconds}s",
                    "modelsOwnedBy": "ai-serving",
                }
                for m in models
            ],
        },
    }
    if count_tokens:
        route["spec"]["llmRequestCosts"] = [{"metadataKey": TOTAL_TOKENS_METADATA_KEY, "type": "TotalToken"}]
    return route


def inference_pool(model: RoutedModel) -> dict[str, Any]:
    if not model.selector_labels or POD_TEMPLATE_HASH_LABEL in model.selector_labels:
        raise ValueError(f"{model.name}: the pool selects stable and canary pods by the model's labels, never {POD_TEMPLATE_HASH_LABEL}")
    return {
        "apiVersion": INFERENCE_API,
        "kind": "InferencePool",
        "metadata": {"name": model.name, "namespace": model.namespace, "labels": _labels()},
        "spec": {
            # Stable and canary pods alike: the canary keeps its share of traffic in proportion to its pods.
            "selector": {"matchLabels": dict(model.selector_labels)},
            "targetPorts": [{"number": model.port}],
            "endpointPickerRef": {
                "group": "",
                "kind": "Service",
                "name": endpoint_picker_name(model),
                "port": {"number": EPP_EXT_PROC_PORT},
                # Fail closed: without the picker, the AI Gateway would route to whatever endpoint the request's
                # x-gateway-destination-endpoint header names. While the one picker replica restarts, the model's
                # requests fail (503) rather than reach an address a client chose.
                "failureMode": "FailClose",
            },
        },
    }
