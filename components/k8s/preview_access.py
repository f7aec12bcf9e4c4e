"""Let the CI preview role run `pulumi preview` against the cluster without being able to change it.

pulumi-kubernetes computes preview diffs with server-side-apply dry runs (PATCH/CREATE with dryRun=All), and
Kubernetes authorizes a dry run exactly like the real request: a view-only role cannot preview. So the preview
group gets the write verbs in RBAC, and a ValidatingAdmissionPolicy rejects every request from that group that
is not a dry run. Admission policies never apply to admission-policy objects themselves, so the group gets no
verbs on admissionregistration.k8s.io at all (it could otherwise switch the guard off). The TokenRequest API
(serviceaccounts/token) issues a real token even for a dry run, so the policy rejects those requests outright.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from components.aws.eks_cluster import PREVIEW_GROUP

ROLE_NAME = "ai-serving:ci-preview-dry-run"
POLICY_NAME = "ai-serving-ci-preview-dry-run-only"
DRY_RUN_VERBS = ["create", "patch", "update"]
# RBAC's resources "*" includes subresources, and serviceaccounts/token ignores dryRun (see dry_run_only_policy).
TOKEN_REQUEST_DENIED = "!(has(request.subResource) && request.subResource == 'token' && request.resource.resource == 'serviceaccounts')"
# API groups of the objects this program manages. Extend it when a component adds kinds from another group,
# or previews of those kinds fail with "forbidden" for the preview role. Never add admissionregistration.k8s.io.
PREVIEW_WRITE_API_GROUPS = (
    "",
    "apps",
    "batch",
    "policy",
    "autoscaling",
    "networking.k8s.io",
    "storage.k8s.io",
    "scheduling.k8s.io",
    "apiextensions.k8s.io",
    "monitoring.coreos.com",
    "argoproj.io",
)


def preview_cluster_role(extra_api_groups: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": ROLE_NAME,
            "annotations": {
                "checkov.io/skip1": f"CKV_K8S_49=any kind of the listed groups must be previewable; {POLICY_NAME} rejects every non-dry-run request of the group",
                "checkov.io/skip2": f"CKV_K8S_157=dry runs of bindings pass RBAC only with bind; {POLICY_NAME} rejects every non-dry-run request of the group",
                "checkov.io/skip3": f"CKV_K8S_158=dry runs of roles pass RBAC only with escalate; {POLICY_NAME} rejects every non-dry-run request of the group",
            },
        },
        "rules": [
            {"apiGroups": [*PREVIEW_WRITE_API_GROUPS, *extra_api_groups], "resources": ["*"], "verbs": DRY_RUN_VERBS},
            # Dry runs of Roles and bindings pass RBAC's escalation check only with bind/escalate.
            {
                "apiGroups": ["rbac.authorization.k8s.io"],
                "resources": ["roles", "rolebindings", "clusterroles", "clusterrolebindings"],
                "verbs": [*DRY_RUN_VERBS, "bind", "escalate"],
            },
        ],
    }


def preview_cluster_role_binding() -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": ROLE_NAME},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ROLE_NAME},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": PREVIEW_GROUP}],
    }


def dry_run_only_policy() -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": POLICY_NAME},
        "spec": {
            # Fail closed: if the policy cannot be evaluated the request is rejected.
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["*"],
                        "apiVersions": ["*"],
                        "operations": ["CREATE", "UPDATE", "DELETE", "CONNECT"],
                        # Subresources too: pods/exec, serviceaccounts/token, .../scale.
                        "resources": ["*", "*/*"],
                    }
                ]
            },
            "matchConditions": [
                {
                    "name": "from-ci-preview",
                    "expression": f"has(request.userInfo.groups) && '{PREVIEW_GROUP}' in request.userInfo.groups",
                }
            ],
            "validations": [
                {
                    "expression": "has(request.dryRun) && request.dryRun",
                    "message": "the CI preview role may only send dry-run requests",
                    "reason": "Forbidden",
                },
                {
                    # The TokenRequest API ignores dryRun and returns a real token: a "dry-run" token request for
                    # any service account would hand the preview role that account's permissions.
                    "expression": TOKEN_REQUEST_DENIED,
                    "message": "the CI preview role may not request service-account tokens, not even as a dry run",
                    "reason": "Forbidden",
                },
            ],
        },
    }


def dry_run_only_binding() -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": POLICY_NAME},
        "spec": {"policyName": POLICY_NAME, "validationActions": ["Deny"]},
    }


class PreviewAccess(pulumi.ComponentResource):
    def __init__(
        self, name: str, k8s_provider: kubernetes.Provider, extra_api_groups: Sequence[str] = (), opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """`extra_api_groups`: groups of the kinds optional components add (the edge's Gateway API, Envoy and
        inference kinds); never admissionregistration.k8s.io."""
        if "admissionregistration.k8s.io" in extra_api_groups:
            raise ValueError("the preview group may not write admission policies: it could switch its own guard off")
        super().__init__("ai-serving:k8s:PreviewAccess", name, None, opts)
        k8s = pulumi.ResourceOptions(parent=self, provider=k8s_provider)
        # The guard first: RBAC must never grant the verbs while nothing rejects non-dry-run requests.
        policy = dry_run_only_policy()
        guard = kubernetes.admissionregistration.v1.ValidatingAdmissionPolicy(
            f"{name}-dry-run-only", metadata=policy["metadata"], spec=policy["spec"], opts=k8s
        )
        binding = dry_run_only_binding()
        guard_binding = kubernetes.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            f"{name}-dry-run-only",
            metadata=binding["metadata"],
            spec=binding["spec"],
            opts=pulumi.ResourceOptions(parent=self, provider=k8s_provider, depends_on=[guard]),
        )
        role = preview_cluster_role(extra_api_groups)
        cluster_role = kubernetes.rbac.v1.ClusterRole(
            f"{name}-dry-run",
            metadata=role["metadata"],
            rules=role["rules"],
            opts=pulumi.ResourceOptions.merge(k8s, pulumi.ResourceOptions(depends_on=[guard_binding])),
        )
        role_binding = preview_cluster_role_binding()
        kubernetes.rbac.v1.ClusterRoleBinding(
            f"{name}-dry-run",
            metadata=role_binding["metadata"],
            role_ref=role_binding["roleRef"],
            subjects=role_binding["subjects"],
            opts=pulumi.ResourceOptions(parent=self, provider=k8s_provider, depends_on=[cluster_role, guard_binding]),
        )
        self.register_outputs({})
