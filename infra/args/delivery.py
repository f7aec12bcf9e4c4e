"""The delivery config (`argocd`) as ArgoCd's Args, with the platform's namespaces its AppProject denies."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from catalogs.platform_namespaces import PLATFORM_NAMESPACES
from components.k8s.argocd import ApplicationSpec, ArgoCdArgs
from infra.config import StackConfig
from infra.config.delivery import ArgoCdConfig


def platform_namespaces(cfg: StackConfig) -> tuple[str, ...]:
    """Namespaces the platform itself runs in, which no Argo CD application may deploy into: the add-ons'
    (monitoring, Argo Rollouts, the device plugin, the autoscaler in kube-system, logging), the edge's gateways, and the
    model servers' (serving.namespace). Listed whether or not the stack enables the add-on, so enabling one later
    cannot find an application already there."""
    serving = {cfg.serving.namespace} if cfg.serving is not None else set()
    return tuple(sorted(PLATFORM_NAMESPACES | serving))


def argocd_args(argocd: ArgoCdConfig, platform: tuple[str, ...], depends_on: Sequence[pulumi.Resource] = ()) -> ArgoCdArgs:
    return ArgoCdArgs(
        namespace=argocd.namespace,
        high_availability=argocd.high_availability,
        project_name=argocd.project.name,
        project_description=argocd.project.description,
        applications=tuple(ApplicationSpec(a.name, a.repo_url, a.path, a.target_revision, a.namespace) for a in argocd.applications),
        platform_namespaces=platform,
        depends_on=depends_on,
    )
