"""The CrossGuard runner: each policy of pack.py as a mandatory `pulumi_policy.ResourceValidationPolicy`.

`pulumi preview|up --policy-pack policy/` runs `__main__.py`, which serves these. Policies that depend on the tier
take it as policy config (`--policy-pack-config policy/config/<tier>.json`); without config they assume production,
the strict side.
"""

from __future__ import annotations

from typing import Any, cast

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .model import TIERS, Policy, PolicyResource, StackFacts, Tier
from .pack import POLICIES

TIER_SCHEMA = PolicyConfigSchema(properties={"tier": {"type": "string", "enum": list(TIERS), "default": "production"}})


def policy_resource(args: ResourceValidationArgs) -> PolicyResource:
    """The engine's view of a resource as the rules read it (props stay CrossGuard's unknown-checking proxy)."""
    return PolicyResource(
        type=args.resource_type,
        name=args.name,
        urn=args.urn,
        props=args.props,
        protect=bool(args.opts.protect),
        parent=args.opts.parent or None,
    )


def facts_from(config: Any) -> StackFacts:
    tier = config.get("tier", "production") if config else "production"
    return StackFacts(tier=cast(Tier, tier if tier in TIERS else "production"))


def validator(policy: Policy) -> Any:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in policy.resource_types:
            return
        for message in policy.check(policy_resource(args), facts_from(args.get_config())):
            report_violation(message, None)

    return validate


def resource_policies() -> list[ResourceValidationPolicy]:
    return [
        ResourceValidationPolicy(
            name=policy.name,
            description=policy.description,
            validate=validator(policy),
            enforcement_level=EnforcementLevel.MANDATORY,
            config_schema=TIER_SCHEMA if policy.reads_tier else None,
        )
        for policy in POLICIES
    ]
