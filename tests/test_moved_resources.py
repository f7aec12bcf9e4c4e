"""Resources that moved to another component keep their cloud state: each declares a Pulumi alias to the URN it
had before, so the next `pulumi up` moves the state instead of deleting and recreating the resource."""

from __future__ import annotations

import pytest

from infra.plan.run import Plan
from tests.harness import checked_in_plan

# Issue 8: the Pulumi CI accounts, their workload identity bindings and project grants, out of the GitHub workload
# identity into PulumiCiIdentity: (type, logical name after the component's name). Issue 10 removed the deploy
# account's project-wide serviceAccountAdmin, serviceAccountUser, roleAdmin and projectIamAdmin grants.
_PULUMI_CI_CHILDREN = [
    ("gcp:serviceaccount/account:Account", "preview-sa"),
    ("gcp:serviceaccount/account:Account", "deploy-sa"),
    ("gcp:serviceaccount/iAMMember:IAMMember", "preview-wif-user-0"),
    ("gcp:serviceaccount/iAMMember:IAMMember", "preview-wif-user-1"),
    ("gcp:serviceaccount/iAMMember:IAMMember", "deploy-wif-user"),
    *(
        ("gcp:projects/iAMMember:IAMMember", grant)
        for grant in (
            "preview-viewer",
            "preview-iam-securityReviewer",
            "preview-secretmanager-viewer",
            "preview-iam-workloadIdentityPoolViewer",
            "deploy-compute-instanceAdmin-v1",
            "deploy-compute-networkAdmin",
            "deploy-compute-securityAdmin",
            "deploy-secretmanager-admin",
            "deploy-iap-admin",
            "deploy-iam-workloadIdentityPoolViewer",
        )
    ),
]

# New URN -> the URN it had before (without the `urn:pulumi:<stack>::ai-serving::` prefix), per move.
MOVED = {
    # Issue 8: CoreDNS out of NodeGroups into EksAddons.
    "ai-serving:aws:EksAddons$aws:eks/addon:Addon::eks-addons-coredns": "ai-serving:aws:NodeGroups$aws:eks/addon:Addon::nodes-coredns",
    # Issue 8: GithubDeployIdentity renamed GithubWorkloadIdentity; Pulumi derives its children's aliases from this one.
    "ai-serving:gcp:GithubWorkloadIdentity::gcp-deploy": "ai-serving:gcp:GithubDeployIdentity::gcp-deploy",
    **{
        f"ai-serving:gcp:PulumiCiIdentity${typ}::gcp-pulumi-ci-{rest}": f"ai-serving:gcp:GithubDeployIdentity${typ}::gcp-deploy-pulumi-{rest}"
        for typ, rest in _PULUMI_CI_CHILDREN
    },
}


@pytest.fixture(scope="module", params=["staging", "production"])
def plan(request: pytest.FixtureRequest) -> Plan:
    return checked_in_plan(request.param)


def _prefix(plan: Plan) -> str:
    return f"urn:pulumi:{plan.document['stack']}::ai-serving::"


def test_every_moved_resource_aliases_its_old_urn(plan: Plan) -> None:
    by_urn = {r["urn"]: r for r in plan.document["resources"]}
    for new, old in MOVED.items():
        resource = by_urn.get(_prefix(plan) + new)
        assert resource is not None, f"{new} is not in the plan: update MOVED"
        assert resource.get("aliases") == [_prefix(plan) + old]


def test_no_alias_names_a_resource_that_still_exists(plan: Plan) -> None:
    """Pulumi refuses an alias that another resource of the program still has as its URN."""
    urns = {r["urn"] for r in plan.document["resources"]}
    claimed = [a for r in plan.document["resources"] for a in r.get("aliases", [])]
    assert not set(claimed) & urns
    assert len(claimed) == len(set(claimed)), "two resources claim the same old URN"


def test_only_the_listed_moves_carry_aliases(plan: Plan) -> None:
    """An alias nobody listed here is either a forgotten entry or an accidental move."""
    aliased = {r["urn"].removeprefix(_prefix(plan)) for r in plan.document["resources"] if r.get("aliases")}
    assert aliased == set(MOVED)
