"""What the edge is made of, as plain values the builders share: the clients, the routed models, the timeouts,
and the fixed names of the edge's objects (other components, e.g. the vLLM NetworkPolicy, refer to them)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from .edge_values import ENVOY_GATEWAY_NAMESPACE

# One name for the GatewayClass, the EnvoyProxy, the Gateway and the AIGatewayRoute (and so the HTTPRoute the AI
# Gateway generates from it, which the security and traffic policies target).
EDGE_NAME = "ai-serving-edge"
GATEWAY_NAMESPACE = ENVOY_GATEWAY_NAMESPACE
API_KEYS_SECRET_NAME = f"{EDGE_NAME}-api-keys"
# Set by the API-key filter to the authenticated credential's id ("<client>.k1" or "<client>.k2"); removed from
# every incoming request first, so a client cannot choose its own rate-limit bucket.
CLIENT_ID_HEADER = "x-ai-serving-client"
# The AI Gateway copies the request body's `model` into this header before routing.
MODEL_HEADER = "x-ai-eg-model"
# The endpoint picker names the chosen pod in this header; Envoy sends the request there.
DESTINATION_ENDPOINT_HEADER = "x-gateway-destination-endpoint"
# Request headers a client may never send: the edge sets them, and each one decides something.
EDGE_SET_HEADERS = (CLIENT_ID_HEADER, MODEL_HEADER, DESTINATION_ENDPOINT_HEADER)
# The Gateway listener: the NLB ends TLS on 443 and forwards plain HTTP (h2c or HTTP/1.1) with a PROXY header.
LISTENER_PORT = 443
# Pod labels the edge adds to its own pods, for NetworkPolicies: Envoy proxies (namespace GATEWAY_NAMESPACE) and the
# endpoint pickers (in the models' namespace).
EDGE_ROLE_LABEL = "ai-serving/edge"
ENVOY_PROXY_ROLE = "envoy-proxy"
ENDPOINT_PICKER_ROLE = "endpoint-picker"
# Every credential slot of a client: two keys may be valid at once during a rotation.
KEY_SLOTS = ("k1", "k2")


@dataclass(frozen=True)
class EdgeClient:
    id: str
    # Local limit per Envoy replica.
    requests_per_minute: int


# Where the AI Gateway's ext-proc writes a request's token usage (AIGatewayRoute llmRequestCosts), and the key of
# the total (prompt + completion) the token limit charges.
AI_GATEWAY_METADATA_NAMESPACE = "io.envoy.ai_gateway"
TOTAL_TOKENS_METADATA_KEY = "llm_total_token"


@dataclass(frozen=True)
class GlobalLimits:
    """Limits shared by every Envoy replica, counted by Envoy Gateway's rate limit service in Redis."""

    # Per client: tokens a minute (charged after each answer, from the AI Gateway's count).
    tokens_per_minute: int
    # Per client: requests a minute across replicas; None: only the local limit.
    requests_per_minute: int | None
    # host:port of the Redis primary (TLS).
    redis_url: pulumi.Input[str]


@dataclass(frozen=True)
class RoutedModel:
    # Kubernetes name of the model's objects (InferencePool and endpoint picker are named after it).
    name: str
    # The OpenAI `model` value clients send (vLLM --served-model-name).
    served_model_name: str
    namespace: str
    # Labels shared by the stable and the canary pods (never the pod-template hash).
    selector_labels: dict[str, str] = field(default_factory=dict)
    port: int = 8000


@dataclass(frozen=True)
class EdgeTimeouts:
    # Headers in to last byte out.
    request_seconds: int
    # Longest silence inside a streamed answer.
    stream_idle_seconds: int
