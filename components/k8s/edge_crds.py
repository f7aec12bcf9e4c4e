"""Where the edge's CRDs come from: the upstream release of exactly the version each controller runs.

Declared as Pulumi ConfigGroups (like the serving add-ons' CRDs), so every custom resource of the edge can depend on
them and a first `pulumi up` on an empty cluster succeeds in one pass.

Envoy Gateway and Envoy AI Gateway publish their CRDs as Helm charts (`gateway-crds-helm`, `ai-gateway-crds-helm`).
We read the plain CRD files at the release tags instead of rendering those charts with `kubernetes.helm.v4.Chart`:
- the AI Gateway chart's templates are the CRD files themselves (no template code, empty values), and Envoy Gateway's
  `gateway-helm` carries its CRDs untemplated in its `crds` subchart (Helm never templates a `crds/` folder), so the
  files are exactly what the charts would install;
- a ConfigGroup of files is the pattern the program already uses, previews offline, and needs no chart pull;
- `gateway-crds-helm` wraps every CRD in `{{ if }}` switches whose 1.8.3 defaults are unconfirmed, and the plan's
  values checker has no data for it.
The Gateway API CRDs come from the Gateway API release (standard channel), not from Envoy Gateway, whose bundled
copy is the experimental channel (so `gateway-helm` runs with `crds.enabled: false`). They are the per-CRD files of
`config/crd/standard/` at the tag, not the release's `standard-install.yaml`: that bundle also holds the
`safe-upgrades` ValidatingAdmissionPolicy, which the CI preview role may not dry-run (it has no access to
admissionregistration.k8s.io, see preview_access.py), so every pull-request preview would fail on it.
"""

from __future__ import annotations

# One compatible set, bumped in one Renovate pull request (.github/renovate.json). The Envoy charts are versioned
# with their app: the chart versions are ENVOY_GATEWAY_VERSION and AI_GATEWAY_VERSION too (edge_values.py).
# renovate: datasource=github-releases depName=kubernetes-sigs/gateway-api
GATEWAY_API_VERSION = "v1.5.1"
# renovate: datasource=github-releases depName=kubernetes-sigs/gateway-api-inference-extension
INFERENCE_EXTENSION_VERSION = "v1.0.2"
# renovate: datasource=github-releases depName=envoyproxy/gateway
ENVOY_GATEWAY_VERSION = "v1.8.3"
# renovate: datasource=github-releases depName=envoyproxy/ai-gateway
AI_GATEWAY_VERSION = "v1.1.0"

_GATEWAY_API_CRD_PLURALS = [
    "backendtlspolicies",
    "gatewayclasses",
    "gateways",
    "grpcroutes",
    "httproutes",
    "listenersets",
    "referencegrants",
    "tlsroutes",
]
GATEWAY_API_CRD_URLS = [
    f"https://raw.githubusercontent.com/kubernetes-sigs/gateway-api/{GATEWAY_API_VERSION}/config/crd/standard/gateway.networking.k8s.io_{plural}.yaml"
    for plural in _GATEWAY_API_CRD_PLURALS
]
INFERENCE_EXTENSION_CRD_URLS = [
    f"https://github.com/kubernetes-sigs/gateway-api-inference-extension/releases/download/{INFERENCE_EXTENSION_VERSION}/manifests.yaml"
]
_ENVOY_GATEWAY_CRD_PLURALS = [
    "backends",
    "backendtrafficpolicies",
    "clienttrafficpolicies",
    "envoyextensionpolicies",
    "envoypatchpolicies",
    "envoyproxies",
    "httproutefilters",
    "securitypolicies",
]
ENVOY_GATEWAY_CRD_URLS = [
    f"https://raw.githubusercontent.com/envoyproxy/gateway/{ENVOY_GATEWAY_VERSION}"
    f"/charts/gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_{p}.yaml"
    for p in _ENVOY_GATEWAY_CRD_PLURALS
]
_AI_GATEWAY_CRD_PLURALS = [
    "aigatewayroutes",
    "aiservicebackends",
    "backendsecuritypolicies",
    "gatewayconfigs",
    "mcproutes",
    "quotapolicies",
]
AI_GATEWAY_CRD_URLS = [
    f"https://raw.githubusercontent.com/envoyproxy/ai-gateway/{AI_GATEWAY_VERSION}"
    f"/manifests/charts/ai-gateway-crds-helm/templates/aigateway.envoyproxy.io_{p}.yaml"
    for p in _AI_GATEWAY_CRD_PLURALS
]
