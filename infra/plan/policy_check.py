"""The offline runner of the policy pack (policy/): the same rules `pulumi preview --policy-pack policy/` applies,
applied to the resources of a plan document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policy.model import PolicyResource, StackFacts, Tier, Violation
from policy.pack import violations


def plan_resources(document: Mapping[str, Any]) -> list[PolicyResource]:
    """The plan's resources as the rules read them: inputs as the provider receives them, plus protect and parent."""
    return [
        PolicyResource(
            type=r["type"],
            name=r["name"],
            urn=r["urn"],
            props=r["inputs"],
            protect=bool(r.get("protect")),
            parent=r.get("parent"),
        )
        for r in document["resources"]
    ]


def plan_violations(document: Mapping[str, Any], tier: Tier) -> list[Violation]:
    # Placeholder digests pass here: the plan lists them as warnings (readiness.py), and the checked-in example stacks
    # carry them; `pulumi preview|up --policy-pack` refuses them.
    return violations(plan_resources(document), StackFacts(tier=tier, allow_placeholder_digests=True))
