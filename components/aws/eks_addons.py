"""EKS-managed add-ons that need nodes to run on: today CoreDNS.

EKS installs a self-managed CoreDNS when it creates a cluster; managing it as an EKS add-on makes it upgradable
through the EKS API (`aws eks update-addon`). The add-on's pods run on the system node group, so it is declared
once that group exists, and the self-managed copy is adopted (conflicts resolved by OVERWRITE).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.moved_children import MovedChildren, moved_child_aliases


@dataclass(frozen=True)
class EksAddonsArgs:
    cluster_name: pulumi.Input[str]
    # The node group(s) the add-ons' pods run on.
    depends_on: Sequence[pulumi.Resource]
    tags: dict[str, str] = field(default_factory=dict)
    # Where the add-ons were declared before, so their state moves here instead of being replaced.
    moved_from: MovedChildren | None = None


class EksAddons(pulumi.ComponentResource):
    # The add-ons, for whatever must wait until cluster DNS answers.
    ready: list[pulumi.Resource]

    def __init__(self, name: str, args: EksAddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:aws:EksAddons", name, None, opts)
        coredns_name = f"{name}-coredns"
        coredns = aws.eks.Addon(
            coredns_name,
            cluster_name=args.cluster_name,
            addon_name="coredns",
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=args.tags,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=list(args.depends_on), aliases=moved_child_aliases(args.moved_from, name, coredns_name)
            ),
        )
        self.ready = [coredns]
        self.register_outputs({"coredns": coredns.arn})
