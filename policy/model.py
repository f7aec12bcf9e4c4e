"""What a rule sees of a resource, and what it reports."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Tier = Literal["staging", "production"]
TIERS: tuple[Tier, ...] = ("staging", "production")


@dataclass(frozen=True)
class PolicyResource:
    """A resource as both runners see it: inputs (camelCase, as the provider receives them) and options.

    `props` may be a CrossGuard proxy that raises on values unknown during a preview: rules read it through the
    Mapping/Sequence interfaces only (see `mapping`, `sequence`).
    """

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    protect: bool = False
    parent: str | None = None


@dataclass(frozen=True)
class StackFacts:
    """What a rule may know about the stack beyond the resource: its tier (staging tolerates less strictness)."""

    tier: Tier
    # The offline plan of the checked-in example stacks carries all-zero image digests (placeholders it warns about:
    # infra/plan/readiness.py); a real preview or deploy never may, since no registry serves them.
    allow_placeholder_digests: bool = False


# A rule yields one message per problem; an empty result means compliant.
Rule = Callable[[PolicyResource, StackFacts], Iterable[str]]


@dataclass(frozen=True)
class Policy:
    name: str
    description: str
    # The types the rule reads; it is not called for others.
    resource_types: frozenset[str]
    rule: Rule
    # Whether the rule reads StackFacts.tier (the CrossGuard pack then takes `tier` as policy config).
    reads_tier: bool = False

    def check(self, resource: PolicyResource, facts: StackFacts) -> list[str]:
        if resource.type not in self.resource_types:
            return []
        return list(self.rule(resource, facts))


@dataclass(frozen=True)
class Violation:
    policy: str
    urn: str
    message: str

    def __str__(self) -> str:
        return f"{self.policy}: {self.urn}: {self.message}"


def mapping(value: Any) -> Mapping[str, Any]:
    """`value` as a mapping; anything else (None, a scalar) as an empty one."""
    return value if isinstance(value, Mapping) else {}


def sequence(value: Any) -> Sequence[Any]:
    """`value` as a list; a string or scalar is not a list of items here (so no rule iterates characters)."""
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return value
    return ()


def urn_type(urn: str) -> str:
    """The type of the resource a URN names (the last type of its `parent$child` chain)."""
    qualified = urn.split("::")[2] if urn.count("::") >= 3 else ""
    return qualified.rsplit("$", 1)[-1]
