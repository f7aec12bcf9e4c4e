"""Config sections for delivery: Argo CD (installed by the program) and the model promotion gate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from catalogs.platform_namespaces import PLATFORM_NAMESPACES
from infra import model_gate

from .base import ConfigProblem, DnsLabel, StrictModel, key_path

# https or scp-style ssh Git URLs; no wildcards, so the AppProject built from them stays a real restriction.
GitRepoUrl = Annotated[str, Field(pattern=r"^(https://[A-Za-z0-9.-]+(:\d+)?/[^\s*]+|git@[A-Za-z0-9.-]+:[^\s*]+)$", max_length=500)]
RepoPath = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$", max_length=500)]
GitRevision = Annotated[str, Field(pattern=r"^[A-Za-z0-9._/-]{1,200}$")]

# Namespaces an application team must not deploy into: the cluster's own, and Argo CD's (an app that can
# write there can rewrite Argo CD's projects and escape the AppProject).
_RESERVED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "default"})
# redis-ha runs 3 replicas with hard anti-affinity.
HA_MIN_NODES = 3


class ArgoCdApplicationConfig(StrictModel):
    """One Argo CD Application: what to sync (repository, path, revision) and where (namespace)."""

    name: DnsLabel
    repo_url: GitRepoUrl
    path: RepoPath
    # A branch, tag or commit SHA. Production teams usually pin a tag or SHA; a branch follows every push.
    target_revision: GitRevision = "HEAD"
    namespace: DnsLabel

    @field_validator("path")
    @classmethod
    def _inside_repo(cls, v: str) -> str:
        if ".." in v.split("/"):
            raise ValueError("must stay inside the repository (no '..')")
        return v


class ArgoCdProjectConfig(StrictModel):
    name: DnsLabel = "ai-serving-apps"
    description: Annotated[str, Field(max_length=255)] = "Applications delivered to the ai-serving cluster"


class ArgoCdConfig(StrictModel):
    """Argo CD installed from the pinned argo-cd chart. Its server stays a ClusterIP Service (no ingress)."""

    namespace: DnsLabel = "argocd"
    # HA: redis-ha (3 replicas, hard anti-affinity), 2 replicas of server, repo-server and applicationset
    # controller, PodDisruptionBudgets. Needs at least 3 system nodes.
    high_availability: bool = False
    project: ArgoCdProjectConfig = ArgoCdProjectConfig()
    applications: list[ArgoCdApplicationConfig] = []

    @model_validator(mode="after")
    def _applications_consistent(self) -> ArgoCdConfig:
        names = [a.name for a in self.applications]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"application names must be unique; repeated: {duplicates}")
        reserved = _RESERVED_NAMESPACES | {self.namespace}
        for app in self.applications:
            if app.namespace in reserved:
                raise ValueError(
                    f"application {app.name!r} targets namespace {app.namespace!r}; applications may not deploy into "
                    f"{sorted(reserved)} (the cluster's own namespaces or Argo CD's)"
                )
        return self


class ModelGateConfig(StrictModel):
    """The model promotion gate (infra/model_gate.py) runs for every stack; this only relaxes it for staging."""

    # Let a served model version without an evaluation record through (records that exist must still pass).
    # Only tier staging may set this.
    allow_unevaluated_models: bool = False


def argocd_problems(tier: str, argocd: ArgoCdConfig | None, system_min_nodes: int, program_namespaces: set[str]) -> list[ConfigProblem]:
    """Rules spanning Argo CD and the rest of the stack. `program_namespaces`: namespaces this program manages."""
    if argocd is None:
        return []
    problems = []
    for i, app in enumerate(argocd.applications):
        if app.namespace in program_namespaces | PLATFORM_NAMESPACES:
            problems.append(
                ConfigProblem(
                    key_path("argocd", "applications", i, "namespace"),
                    app.namespace,
                    f"the platform runs there ({', '.join(sorted(program_namespaces | PLATFORM_NAMESPACES))}); deliver applications into a namespace of their own",
                )
            )
    if tier == "production" and not argocd.high_availability:
        problems.append(ConfigProblem(key_path("argocd", "highAvailability"), False, "must be true when tier is production"))
    if argocd.high_availability and system_min_nodes < HA_MIN_NODES:
        problems.append(
            ConfigProblem(
                key_path("cluster", "systemNodeGroup", "scaling", "minSize"),
                system_min_nodes,
                f"argocd.highAvailability needs at least {HA_MIN_NODES} system nodes (redis-ha spreads 3 replicas over distinct nodes)",
            )
        )
    return problems


def model_gate_problems(tier: str, models: Sequence[model_gate.ServedModel], gate: ModelGateConfig) -> list[ConfigProblem]:
    """The promotion gate over the served models (records and thresholds under models/ of this repository)."""
    return model_gate.stack_problems(tier, models, gate.allow_unevaluated_models)
