"""The edge's entry: the EnvoyProxy (how Envoy Gateway deploys Envoy and exposes it as an NLB), the GatewayClass
and Gateway, and the ClientTrafficPolicy of the Gateway's listener. Plain dicts; `edge_gateway` registers them.

Request path: client --TLS--> NLB (ACM certificate, TLS 1.3/1.2, ALPN h2 preferred) --PROXY v2 + cleartext HTTP-->
Envoy pod (IP target) --> the AIGatewayRoute's rules (edge_routing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import pulumi

from .edge_spec import (
    EDGE_NAME,
    EDGE_ROLE_LABEL,
    EDGE_SET_HEADERS,
    ENVOY_PROXY_ROLE,
    GATEWAY_NAMESPACE,
    LISTENER_PORT,
    EdgeTimeouts,
)
from .edge_values import GATEWAY_CONTROLLER_NAME

ENVOY_GATEWAY_API = "gateway.envoyproxy.io/v1alpha1"
GATEWAY_API = "gateway.networking.k8s.io/v1"
Scheme = Literal["internal", "internet-facing"]
_LB = "service.beta.kubernetes.io/aws-load-balancer-"
# TLS 1.3 and 1.2 only (the API's default, ELBSecurityPolicy-2016-08, still accepts TLS 1.0).
NLB_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# Envoy's readiness endpoint (Envoy Gateway bootstrap): not behind the PROXY-protocol listener, so the NLB's
# health check can reach it on the pod IP.
ENVOY_READINESS_PORT = 19001
ENVOY_READINESS_PATH = "/ready"


def _labels() -> dict[str, str]:
    return {"app.kubernetes.io/part-of": "ai-serving", "app.kubernetes.io/managed-by": "pulumi"}


def _meta(name: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": _labels()}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def nlb_annotations(scheme: Scheme, certificate_arn: pulumi.Input[str], host: str, timeouts: EdgeTimeouts) -> dict[str, Any]:
    """The AWS Load Balancer Controller's NLB for the Envoy Service, and ExternalDNS's record for it."""
    return {
        f"{_LB}scheme": scheme,
        # Pods are the targets: no NodePort hop, and the NLB health-checks each Envoy itself.
        f"{_LB}nlb-target-type": "ip",
        f"{_LB}ssl-cert": certificate_arn,
        f"{_LB}ssl-ports": str(LISTENER_PORT),
        f"{_LB}ssl-negotiation-policy": NLB_TLS_POLICY,
        f"{_LB}alpn-policy": "HTTP2Preferred",
        f"{_LB}backend-protocol": "tcp",
        # PROXY protocol v2 carries the client address to Envoy (IP targets do not preserve it).
        f"{_LB}proxy-protocol": "*",
        # Streams in flight when an Envoy pod leaves get as long as a whole request to finish.
        f"{_LB}target-group-attributes": (
            f"proxy_protocol_v2.enabled=true,deregistration_delay.timeout_seconds={timeouts.request_seconds}"
        ),
        f"{_LB}attributes": "load_balancing.cross_zone.enabled=true",
        f"{_LB}healthcheck-protocol": "http",
        f"{_LB}healthcheck-port": str(ENVOY_READINESS_PORT),
        f"{_LB}healthcheck-path": ENVOY_READINESS_PATH,
        "external-dns.alpha.kubernetes.io/hostname": host,
    }


def envoy_proxy(
    scheme: Scheme,
    certificate_arn: pulumi.Input[str],
    host: str,
    allowed_client_cidrs: Sequence[str],
    timeouts: EdgeTimeouts,
    replicas: int,
    node_selector: dict[str, str],
) -> dict[str, Any]:
    kubernetes: dict[str, Any] = {
        "envoyDeployment": {
            "replicas": replicas,
            "pod": {
                "labels": {EDGE_ROLE_LABEL: ENVOY_PROXY_ROLE, "app.kubernetes.io/part-of": "ai-serving"},
                "nodeSelector": node_selector,
                "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            },
            "container": {
                "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                    "runAsNonRoot": True,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
            },
        },
        "envoyService": {
            "type": "LoadBalancer",
            "loadBalancerClass": "service.k8s.aws/nlb",
            "annotations": nlb_annotations(scheme, certificate_arn, host, timeouts),
            "loadBalancerSourceRanges": list(allowed_client_cidrs),
            # IP targets: the NLB never uses node ports.
            "allocateLoadBalancerNodePorts": False,
        },
    }
    if replicas > 1:
        kubernetes["envoyPDB"] = {"maxUnavailable": 1}
    return {
        "apiVersion": ENVOY_GATEWAY_API,
        "kind": "EnvoyProxy",
        "metadata": _meta(EDGE_NAME, GATEWAY_NAMESPACE),
        "spec": {
            "provider": {"type": "Kubernetes", "kubernetes": kubernetes},
            # A draining Envoy lets its streams finish (a whole request) before it stops.
            "shutdown": {"drainTimeout": f"{timeouts.request_seconds}s"},
        },
    }


def gateway_class() -> dict[str, Any]:
    return {
        "apiVersion": GATEWAY_API,
        "kind": "GatewayClass",
        "metadata": _meta(EDGE_NAME),
        "spec": {
            "controllerName": GATEWAY_CONTROLLER_NAME,
            "parametersRef": {"group": "gateway.envoyproxy.io", "kind": "EnvoyProxy", "name": EDGE_NAME, "namespace": GATEWAY_NAMESPACE},
        },
    }


def gateway(host: str, route_namespace: str) -> dict[str, Any]:
    """One HTTP listener on 443: the NLB has already ended TLS. Routes only from the models' namespace."""
    return {
        "apiVersion": GATEWAY_API,
        "kind": "Gateway",
        "metadata": _meta(EDGE_NAME, GATEWAY_NAMESPACE),
        "spec": {
            "gatewayClassName": EDGE_NAME,
            "listeners": [
                {
                    "name": "api",
                    "port": LISTENER_PORT,
                    "protocol": "HTTP",
                    "hostname": host,
                    "allowedRoutes": {
                        "namespaces": {"from": "Selector", "selector": {"matchLabels": {"kubernetes.io/metadata.name": route_namespace}}},
                        "kinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
                    },
                }
            ],
        },
    }


def client_traffic_policy(timeouts: EdgeTimeouts) -> dict[str, Any]:
    return {
        "apiVersion": ENVOY_GATEWAY_API,
        "kind": "ClientTrafficPolicy",
        "metadata": _meta(EDGE_NAME, GATEWAY_NAMESPACE),
        "spec": {
            "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": EDGE_NAME}],
            # Required, not optional: every connection comes through the NLB, which always sends the header.
            "proxyProtocol": {"optional": False},
            "timeout": {"http": {"streamIdleTimeout": f"{timeouts.stream_idle_seconds}s"}},
            # Headers only the edge may set: the client id (set by the API-key check, keys the rate limit), the model
            # (set by the AI Gateway from the body) and the endpoint the picker chose (routes to any address).
            "headers": {"earlyRequestHeaders": {"remove": list(EDGE_SET_HEADERS)}},
        },
    }
