"""The serving edge on Kubernetes: one authenticated endpoint (`https://<host>/v1`) that routes OpenAI requests by
their `model` to the served models.

Envoy Gateway runs Envoy behind an AWS NLB (TLS ends there with the ACM certificate); Envoy AI Gateway reads the
model from the body and routes to an InferencePool per model, whose endpoint picker chooses the pod by queue and
KV cache. API keys (SecurityPolicy), per-client rate limits, body limit and retries (BackendTrafficPolicy) sit on
the route. The CRDs are Pulumi resources declared first; every chart and custom resource depends on them, so a
first `pulumi up` succeeds in one pass. Decisions are in the pure modules `edge_crds`, `edge_values`,
`edge_objects`, `edge_routing`, `edge_policies`, `edge_epp`; docs/edge-gateway-part.md describes the whole path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from catalogs.image_registries import cached_reference

from .charts import pinned_release
from .edge_crds import AI_GATEWAY_CRD_URLS, ENVOY_GATEWAY_CRD_URLS, GATEWAY_API_CRD_URLS, INFERENCE_EXTENSION_CRD_URLS
from .edge_epp import EPP_IMAGE, endpoint_picker_objects
from .edge_objects import Scheme, client_traffic_policy, envoy_proxy, gateway, gateway_class
from .edge_policies import api_key_secret, api_key_secret_data, backend_traffic_policy, security_policy
from .edge_routing import ai_gateway_route, inference_pool, route_namespace
from .edge_spec import EDGE_NAME, EdgeClient, EdgeTimeouts, GlobalLimits, RoutedModel
from .edge_values import AI_GATEWAY, ENVOY_GATEWAY, ai_gateway_values, envoy_gateway_values
from .objects import custom_resource
from .serving_addon_values import Tier, namespace


@dataclass(frozen=True)
class ServingEdgeArgs:
    # The endpoint's DNS name (ExternalDNS writes it, the certificate covers it).
    host: str
    scheme: Scheme
    # Client networks allowed to connect (NLB source ranges and Envoy's own check).
    allowed_client_cidrs: Sequence[str]
    # ACM certificate for `host`, used by the NLB's TLS listener.
    certificate_arn: pulumi.Input[str]
    clients: Sequence[EdgeClient]
    # Secret: client id -> one or two API keys (two while a key is rotated).
    api_keys: pulumi.Input[Mapping[str, Sequence[str]]]
    models: Sequence[RoutedModel]
    timeouts: EdgeTimeouts
    max_request_body_kib: int
    # Envoy proxy replicas.
    replicas: int
    # Where the controllers, Envoy and the endpoint pickers run.
    system_node_selector: dict[str, str]
    tier: Tier
    # What must exist first: the nodes, and the models' namespace.
    depends_on: Sequence[pulumi.Resource] = ()
    # Set: per-client token and request limits shared by all replicas, counted in this Redis.
    global_limits: GlobalLimits | None = None
    # The endpoint picker's image: EPP_IMAGE, with the stack's digest in production.
    endpoint_picker_image: str = EPP_IMAGE
    # The stack's ECR registry host when the picker's registry is pulled through the stack's cache (same tag and digest).
    endpoint_picker_registry: pulumi.Input[str] | None = None


class ServingEdge(pulumi.ComponentResource):
    crds: list[k8s.yaml.v2.ConfigGroup]
    releases: dict[str, k8s.helm.v3.Release]
    route_namespace: str
    # OpenAI base URL clients use.
    endpoint: str
    served_model_names: list[str]

    def __init__(self, name: str, args: ServingEdgeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:k8s:ServingEdge", name, None, opts)
        after = list(args.depends_on)
        child = pulumi.ResourceOptions(parent=self, depends_on=after)
        route_ns = route_namespace(args.models)

        # Envoy's pods get the AI Gateway's ext-proc sidecar from a webhook: its securityContext is not ours to set,
        # so the proxies' namespace enforces "baseline" (and warns on "restricted"); the AI Gateway's controller
        # complies with "restricted".
        namespaces = {
            ENVOY_GATEWAY.namespace: _namespace(f"{name}-ns-envoy-gateway", namespace(ENVOY_GATEWAY.namespace, "baseline"), child),
            AI_GATEWAY.namespace: _namespace(f"{name}-ns-ai-gateway", namespace(AI_GATEWAY.namespace, "restricted"), child),
        }
        gateway_api = k8s.yaml.v2.ConfigGroup(f"{name}-gateway-api-crds", files=GATEWAY_API_CRD_URLS, opts=child)
        inference = k8s.yaml.v2.ConfigGroup(f"{name}-inference-extension-crds", files=INFERENCE_EXTENSION_CRD_URLS, opts=child)
        envoy_gateway = k8s.yaml.v2.ConfigGroup(f"{name}-envoy-gateway-crds", files=ENVOY_GATEWAY_CRD_URLS, opts=child)
        ai_gateway = k8s.yaml.v2.ConfigGroup(f"{name}-ai-gateway-crds", files=AI_GATEWAY_CRD_URLS, opts=child)
        self.crds = [gateway_api, inference, envoy_gateway, ai_gateway]

        eg = pinned_release(
            self,
            name,
            ENVOY_GATEWAY,
            envoy_gateway_values(
                args.tier, args.system_node_selector, args.global_limits.redis_url if args.global_limits is not None else None
            ),
            [*after, *self.crds, namespaces[ENVOY_GATEWAY.namespace]],
        )
        aigw = pinned_release(
            self,
            name,
            AI_GATEWAY,
            ai_gateway_values(args.tier, args.system_node_selector),
            [*after, *self.crds, namespaces[AI_GATEWAY.namespace]],
        )
        self.releases = {ENVOY_GATEWAY.name: eg, AI_GATEWAY.name: aigw}
        # Custom resources wait for their CRDs and for the controllers (and the AI Gateway's webhook, which must
        # see Envoy's pods created).
        ready = [*after, *self.crds, eg, aigw]

        def cr(suffix: str, obj: dict[str, Any], extra: Sequence[pulumi.Resource] = ()) -> k8s.apiextensions.CustomResource:
            return custom_resource(f"{name}-{suffix}", obj, pulumi.ResourceOptions(parent=self, depends_on=[*ready, *extra]))

        proxy = cr(
            "envoy-proxy",
            envoy_proxy(
                args.scheme,
                args.certificate_arn,
                args.host,
                args.allowed_client_cidrs,
                args.timeouts,
                args.replicas,
                args.system_node_selector,
            ),
        )
        klass = cr("gateway-class", gateway_class(), [proxy])
        gw = cr("gateway", gateway(args.host, route_ns), [klass])
        cr("client-traffic-policy", client_traffic_policy(args.timeouts), [gw])

        clients = list(args.clients)

        def secret_data_of(keys: Mapping[str, Sequence[str]]) -> dict[str, str]:
            return api_key_secret_data(keys, clients)

        keys: pulumi.Output[Mapping[str, Sequence[str]]] = pulumi.Output.from_input(args.api_keys)
        secret_data: pulumi.Output[dict[str, str]] = pulumi.Output.secret(keys.apply(secret_data_of))
        secret_obj = api_key_secret(route_ns, secret_data)
        keys_secret = k8s.core.v1.Secret(
            f"{name}-api-keys", metadata=secret_obj["metadata"], type=secret_obj["type"], string_data=secret_data, opts=child
        )

        pools = []
        for model in args.models:
            for obj in endpoint_picker_objects(model, args.system_node_selector, args.endpoint_picker_image):
                if obj["kind"] == "Deployment" and args.endpoint_picker_registry is not None:
                    obj["spec"]["template"]["spec"]["containers"][0]["image"] = pulumi.Output.from_input(
                        args.endpoint_picker_registry
                    ).apply(lambda host: cached_reference(host, args.endpoint_picker_image))
                _k8s_object(f"{name}-{model.name}-epp-{obj['kind'].lower()}", obj, child)
            pools.append(cr(f"{model.name}-pool", inference_pool(model)))
        route = cr("route", ai_gateway_route(args.models, args.timeouts, count_tokens=args.global_limits is not None), [gw, *pools])
        cr("security-policy", security_policy(route_ns, args.allowed_client_cidrs), [keys_secret, route])
        cr("backend-traffic-policy", backend_traffic_policy(route_ns, clients, args.max_request_body_kib, args.global_limits), [route])

        self.route_namespace = route_ns
        self.endpoint = f"https://{args.host}/v1"
        self.served_model_names = [m.served_model_name for m in args.models]
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "servedModelNames": self.served_model_names,
                "gateway": EDGE_NAME,
                "releases": {k: r.status for k, r in self.releases.items()},
            }
        )


def _namespace(logical_name: str, obj: dict[str, Any], opts: pulumi.ResourceOptions) -> k8s.core.v1.Namespace:
    return k8s.core.v1.Namespace(logical_name, metadata=obj["metadata"], opts=opts)


def _k8s_object(logical_name: str, obj: dict[str, Any], opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """The endpoint picker's core objects, exactly as `edge_epp` built them."""
    kind, meta = obj["kind"], obj["metadata"]
    if kind == "ServiceAccount":
        return k8s.core.v1.ServiceAccount(logical_name, metadata=meta, opts=opts)
    if kind == "ConfigMap":
        return k8s.core.v1.ConfigMap(logical_name, metadata=meta, data=obj["data"], opts=opts)
    if kind == "Service":
        return k8s.core.v1.Service(logical_name, metadata=meta, spec=obj["spec"], opts=opts)
    if kind == "Deployment":
        return k8s.apps.v1.Deployment(logical_name, metadata=meta, spec=obj["spec"], opts=opts)
    if kind == "NetworkPolicy":
        return k8s.networking.v1.NetworkPolicy(logical_name, metadata=meta, spec=obj["spec"], opts=opts)
    if kind == "Role":
        return k8s.rbac.v1.Role(logical_name, metadata=meta, rules=obj["rules"], opts=opts)
    if kind == "RoleBinding":
        return k8s.rbac.v1.RoleBinding(logical_name, metadata=meta, subjects=obj["subjects"], role_ref=obj["roleRef"], opts=opts)
    raise ValueError(f"no registration for {kind}")
