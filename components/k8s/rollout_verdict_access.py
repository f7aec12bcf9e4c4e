"""What `ai-serving rollout-status` may do in the models' namespace, and no more.

The deploy job's principal is cluster admin (it creates every object). The verdict step does not need that: the
tool impersonates the user below, bound here to a Role that reads Rollouts, AnalysisRuns and AnalysisTemplates and
runs the smoke-test Job. A person can be given the same binding to run the tool by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

# A Kubernetes user name (not an IAM principal): only impersonation reaches it.
VERDICT_USER = "ai-serving:rollout-verdict"
ROLE_NAME = "ai-serving-rollout-verdict"


def verdict_role(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": ROLE_NAME, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "ai-serving"}},
        "rules": [
            # Exactly the reads the tool makes (tests/test_rollout_delivery.py replays them against these rules).
            {"apiGroups": ["argoproj.io"], "resources": ["rollouts"], "verbs": ["get"]},
            {"apiGroups": ["argoproj.io"], "resources": ["analysisruns", "analysistemplates"], "verbs": ["list"]},
            # The smoke test: create its Job, follow it, remove it.
            {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get", "delete"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
            {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
        ],
    }


def verdict_role_binding(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": ROLE_NAME, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "ai-serving"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE_NAME},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": VERDICT_USER}],
    }


@dataclass(frozen=True)
class RolloutVerdictAccessArgs:
    models_namespace: str
    # The namespace itself (ServingAddons.models_namespace_ready).
    depends_on: Sequence[pulumi.Resource] = ()


class RolloutVerdictAccess(pulumi.ComponentResource):
    def __init__(self, name: str, args: RolloutVerdictAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:k8s:RolloutVerdictAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        role = verdict_role(args.models_namespace)
        created = k8s.rbac.v1.Role(f"{name}-role", metadata=role["metadata"], rules=role["rules"], opts=child)
        binding = verdict_role_binding(args.models_namespace)
        k8s.rbac.v1.RoleBinding(
            f"{name}-binding",
            metadata=binding["metadata"],
            role_ref=binding["roleRef"],
            subjects=binding["subjects"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, created]),
        )
        self.register_outputs({"user": VERDICT_USER})
