"""The delivery config (`argocd`) as ArgoCd's Args."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from components.k8s.argocd import ApplicationSpec, ArgoCdArgs
from infra.config.delivery import ArgoCdConfig


def argocd_args(argocd: ArgoCdConfig, depends_on: Sequence[pulumi.Resource] = ()) -> ArgoCdArgs:
    return ArgoCdArgs(
        namespace=argocd.namespace,
        high_availability=argocd.high_availability,
        project_name=argocd.project.name,
        project_description=argocd.project.description,
        applications=tuple(ApplicationSpec(a.name, a.repo_url, a.path, a.target_revision, a.namespace) for a in argocd.applications),
        depends_on=depends_on,
    )
