"""Who may call the edge and how much: the API keys' Secret, the SecurityPolicy (API-key authentication, the
allowed client networks) and the BackendTrafficPolicy (per-client local rate limits, body limit, retries, OpenAI-
shaped error bodies). Both policies attach to the HTTPRoute the AI Gateway generates from the AIGatewayRoute (same
name and namespace), so the generated `route-not-found` rule is behind authentication too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .edge_spec import (
    AI_GATEWAY_METADATA_NAMESPACE,
    API_KEYS_SECRET_NAME,
    CLIENT_ID_HEADER,
    EDGE_NAME,
    KEY_SLOTS,
    TOTAL_TOKENS_METADATA_KEY,
    EdgeClient,
    GlobalLimits,
)

ENVOY_GATEWAY_API = "gateway.envoyproxy.io/v1alpha1"
# Retry only what cannot have reached a model: a generation is neither idempotent nor cheap.
RETRY_TRIGGERS = ["connect-failure", "reset-before-request"]
RETRIES = 2


def _meta(name: str, namespace: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "labels": {"app.kubernetes.io/part-of": "ai-serving", "app.kubernetes.io/managed-by": "pulumi"},
    }


def _route_ref() -> list[dict[str, str]]:
    return [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": EDGE_NAME}]


# A key is a bearer credential: at least 32 characters (openssl rand -base64 32 gives 44).
MIN_KEY_LENGTH = 32


def api_key_secret_data(keys: Mapping[str, Sequence[str]], clients: Sequence[EdgeClient]) -> dict[str, str]:
    """`<client>.k1` (and `<client>.k2` during a rotation) -> key. Envoy Gateway allows one key per credential id,
    so a client's two keys are two ids; the rate limit matches both (see `backend_traffic_policy`)."""
    # Messages name clients, never keys: they end up in `pulumi up` logs.
    if not isinstance(keys, Mapping):
        raise ValueError("edgeApiKeys must be a JSON map of client id to a list of one or two API keys")
    known = {c.id for c in clients}
    unknown = sorted(set(keys) - known)
    if unknown:
        raise ValueError(f"API keys for clients that are not in edge.clients: {unknown}")
    keyless = sorted(known - set(keys))
    if keyless:
        raise ValueError(f"clients of edge.clients without an API key in edgeApiKeys: {keyless}")
    data: dict[str, str] = {}
    for client in sorted(keys):
        given = keys[client]
        if not isinstance(given, list | tuple) or not all(isinstance(k, str) for k in given):
            raise ValueError(f"client {client}: give a list of one or two API keys")
        client_keys = list(given)
        if not 1 <= len(client_keys) <= len(KEY_SLOTS):
            raise ValueError(f"client {client}: give one or two API keys")
        if any(len(k) < MIN_KEY_LENGTH for k in client_keys):
            raise ValueError(f"client {client}: an API key has fewer than {MIN_KEY_LENGTH} characters (use openssl rand -base64 32)")
        if len(set(client_keys)) != len(client_keys):
            raise ValueError(f"client {client}: its two API keys are the same")
        data.update({f"{client}.{slot}": key for slot, key in zip(KEY_SLOTS, client_keys, strict=False)})
    return data


def api_key_secret(namespace: str, data: Any) -> dict[str, Any]:
    """`data` is the (secret) output of `api_key_secret_data`."""
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(API_KEYS_SECRET_NAME, namespace), "type": "Opaque", "stringData": data}


def security_policy(namespace: str, allowed_client_cidrs: Sequence[str]) -> dict[str, Any]:
    return {
        "apiVersion": ENVOY_GATEWAY_API,
        "kind": "SecurityPolicy",
        "metadata": _meta(EDGE_NAME, namespace),
        "spec": {
            "targetRefs": _route_ref(),
            "apiKeyAuth": {
                "credentialRefs": [{"group": "", "kind": "Secret", "name": API_KEYS_SECRET_NAME}],
                # OpenAI clients send `Authorization: Bearer <key>`; the stored keys carry no `Bearer ` prefix.
                "extractFrom": [{"headers": ["authorization"]}],
                "forwardClientIDHeader": CLIENT_ID_HEADER,
                # The key never reaches the AI Gateway's ext-proc, the picker or vLLM.
                "sanitize": True,
            },
            # The NLB's source ranges may not be enforced for IP targets without client-IP preservation: Envoy, which
            # sees the client address through PROXY protocol, checks it too.
            "authorization": {
                "defaultAction": "Deny",
                "rules": [{"name": "allowed-client-networks", "action": "Allow", "principal": {"clientCIDRs": list(allowed_client_cidrs)}}],
            },
        },
    }


def client_id_pattern(client_id: str) -> str:
    """Both credential ids of a client (`<id>.k1`, `<id>.k2`) share one bucket."""
    return f"^{re.escape(client_id)}\\.k[12]$"


def _openai_error(status: int, message: str, error_type: str, code: str) -> dict[str, Any]:
    body = json.dumps({"error": {"message": message, "type": error_type, "param": None, "code": code}}, separators=(",", ":"))
    return {
        "match": {"statusCodes": [{"type": "Value", "value": status}]},
        # Only Envoy's own answers; a model's errors pass unchanged.
        "source": "Local",
        "response": {"contentType": "application/json", "body": {"type": "Inline", "inline": body}},
    }


OPENAI_ERRORS = [
    _openai_error(401, "Invalid or missing API key: send Authorization: Bearer <key>.", "invalid_request_error", "invalid_api_key"),
    _openai_error(403, "Your network is not allowed to call this endpoint.", "invalid_request_error", "forbidden"),
    # The AI Gateway's catch-all rule for a model that no rule routes.
    _openai_error(
        404, "The model does not exist or is not served here; GET /v1/models lists the models.", "invalid_request_error", "model_not_found"
    ),
    _openai_error(413, "The request body is too large.", "invalid_request_error", "request_too_large"),
    _openai_error(429, "Rate limit reached for your API key.", "requests", "rate_limit_exceeded"),
]


def _client_selectors(client: EdgeClient) -> list[dict[str, Any]]:
    return [{"headers": [{"name": CLIENT_ID_HEADER, "type": "RegularExpression", "value": client_id_pattern(client.id)}]}]


def global_rate_limit_rules(clients: Sequence[EdgeClient], limits: GlobalLimits) -> list[dict[str, Any]]:
    """Per client, shared by every Envoy replica: a token bucket and, if set, a request bucket.

    The token rule charges nothing when a request arrives (cost 0: it only checks the bucket still has tokens) and
    the answer's total tokens once it is complete, read from the AI Gateway's dynamic metadata. So the request that
    empties the bucket finishes; the next ones get 429 until the minute rolls over.
    """
    token_cost = {
        "request": {"from": "Number", "number": 0},
        "response": {"from": "Metadata", "metadata": {"namespace": AI_GATEWAY_METADATA_NAMESPACE, "key": TOTAL_TOKENS_METADATA_KEY}},
    }
    rules = [
        {
            "clientSelectors": _client_selectors(c),
            "limit": {"requests": limits.tokens_per_minute, "unit": "Minute"},
            "cost": token_cost,
            # One bucket per client whichever model it calls (the route has a rule per model).
            "shared": True,
        }
        for c in clients
    ]
    if limits.requests_per_minute is not None:
        rules += [
            {"clientSelectors": _client_selectors(c), "limit": {"requests": limits.requests_per_minute, "unit": "Minute"}, "shared": True}
            for c in clients
        ]
    return rules


def backend_traffic_policy(
    namespace: str, clients: Sequence[EdgeClient], max_request_body_kib: int, global_limits: GlobalLimits | None = None
) -> dict[str, Any]:
    policy: dict[str, Any] = {
        "apiVersion": ENVOY_GATEWAY_API,
        "kind": "BackendTrafficPolicy",
        "metadata": _meta(EDGE_NAME, namespace),
        "spec": {
            "targetRefs": _route_ref(),
            # One rule per client (Envoy Gateway 1.8.3's Distinct buckets hold only 20 clients); per Envoy replica.
            "rateLimit": {
                "local": {
                    "rules": [
                        {
                            "clientSelectors": _client_selectors(c),
                            "limit": {"requests": c.requests_per_minute, "unit": "Minute"},
                            # One bucket per client across the route's rules (one per model), not one per rule.
                            "shared": True,
                        }
                        for c in clients
                    ]
                }
            },
            # Larger bodies get 413 before they reach the AI Gateway or a model.
            "requestBuffer": {"limit": f"{max_request_body_kib}Ki"},
            "retry": {"numRetries": RETRIES, "retryOn": {"triggers": list(RETRY_TRIGGERS)}},
            "responseOverride": OPENAI_ERRORS,
        },
    }
    if global_limits is not None:
        policy["spec"]["rateLimit"]["global"] = {"rules": global_rate_limit_rules(clients, global_limits)}
    return policy
