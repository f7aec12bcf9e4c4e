"""EksAddons: the EKS-managed CoreDNS add-on, declared once the system node group exists."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.aws.eks_addons import EksAddons, EksAddonsArgs
from infra.plan.engine import ProgramEvaluation
from tests.harness import inputs, one, run


def _evaluate() -> ProgramEvaluation:
    def program() -> None:
        system = aws.eks.NodeGroup(
            "system",
            cluster_name="c1",
            node_role_arn="arn:aws:iam::123456789012:role/n",
            subnet_ids=["s"],
            scaling_config={"min_size": 1, "desired_size": 1, "max_size": 2},
        )
        EksAddons("eks-addons", EksAddonsArgs(cluster_name="c1", depends_on=[system], tags={"ai-serving/cluster": "c1"}))

    return run(program)


def test_coredns_is_an_eks_managed_add_on_that_adopts_the_self_managed_copy() -> None:
    addon = inputs(one(_evaluate(), "aws:eks/addon:Addon", "eks-addons-coredns"))
    assert addon["addonName"] == "coredns" and addon["clusterName"] == "c1"
    assert addon["resolveConflictsOnCreate"] == addon["resolveConflictsOnUpdate"] == "OVERWRITE"
    assert addon["tags"] == {"ai-serving/cluster": "c1"}


def test_coredns_waits_for_the_nodes_it_runs_on() -> None:
    ev = _evaluate()
    addon = one(ev, "aws:eks/addon:Addon", "eks-addons-coredns")
    assert one(ev, "aws:eks/nodeGroup:NodeGroup", "system").urn in addon.dependencies
    assert addon.parent == one(ev, "ai-serving:aws:EksAddons").urn


def test_component_outputs_what_workloads_wait_for() -> None:
    ready: list[pulumi.Resource] = []

    def program() -> None:
        ready.extend(EksAddons("eks-addons", EksAddonsArgs(cluster_name="c1", depends_on=[])).ready)

    run(program)
    assert [type(r) for r in ready] == [aws.eks.Addon]
