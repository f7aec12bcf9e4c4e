"""Pinned Helm charts and how the program installs them.

CRDs are never Helm's: every release skips them, because the program declares them as Pulumi resources first
(see serving_addons.py and edge_crds.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class Chart:
    name: str
    version: str
    # An HTTP(S) chart repository, or an OCI registry path (`oci://...`) that holds the chart as `<repo>/<name>`.
    repo: str
    namespace: str

    @property
    def is_oci(self) -> bool:
        return self.repo.startswith("oci://")


def pinned_release(
    parent: pulumi.Resource, prefix: str, chart: Chart, values: pulumi.Input[dict[str, Any]], depends_on: list[pulumi.Resource]
) -> k8s.helm.v3.Release:
    """`<prefix>-<chart>`: the chart at its pinned version in its namespace (created by the program), CRDs skipped."""
    # An OCI chart is referenced by its full path; an HTTP chart by name in its repository's index.
    source: dict[str, Any] = (
        {"chart": f"{chart.repo}/{chart.name}"}
        if chart.is_oci
        else {"chart": chart.name, "repository_opts": k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo)}
    )
    return k8s.helm.v3.Release(
        f"{prefix}-{chart.name}",
        name=chart.name,
        **source,
        version=chart.version,
        namespace=chart.namespace,
        create_namespace=False,
        skip_crds=True,
        values=values,
        timeout=900,
        max_history=10,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on),
    )
