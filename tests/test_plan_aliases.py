"""Aliases in the plan: a resource that moves or is renamed lists the URN it had before, so the move is reviewable
(and the engine keeps the resource instead of replacing it)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.plan.engine import ProgramEvaluation, RecordedResource
from tests.harness import one, run

THING = "test:index:Thing"
NEW_BOX = "test:index:NewBox"


class Box(pulumi.ComponentResource):
    def __init__(self, name: str, type_: str = "test:index:Box", opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_, name, None, opts)


def _thing(name: str = "thing", **options: object) -> None:
    pulumi.CustomResource(THING, name, {"size": 1}, pulumi.ResourceOptions(**options))  # type: ignore[arg-type]


def _thing_of(evaluation: ProgramEvaluation, name: str = "thing") -> RecordedResource:
    return one(evaluation, THING, name)


def test_a_resource_moved_to_another_component_lists_its_urn_from_before_the_move() -> None:
    # A URN names the parents' types, not their names: the move is to a component of another type.
    def before() -> None:
        old = Box("old")
        Box("new", NEW_BOX)
        _thing(parent=old)

    def after() -> None:
        old = Box("old")
        new = Box("new", NEW_BOX)
        _thing(parent=new, aliases=[pulumi.Alias(parent=old)])

    old_urn = _thing_of(run(before)).urn
    moved = _thing_of(run(after))
    assert moved.urn != old_urn
    assert moved.aliases == [old_urn]
    assert moved.contract()["aliases"] == [old_urn]


def test_a_resource_moved_from_the_stack_into_a_component_lists_its_top_level_urn() -> None:
    def after() -> None:
        _thing(parent=Box("box"), aliases=[pulumi.Alias(parent=None)])

    assert _thing_of(run(after)).aliases == [_thing_of(run(lambda: _thing())).urn]


def test_a_renamed_resource_and_a_literal_urn_alias_are_listed_in_declaration_order() -> None:
    literal = "urn:pulumi:elsewhere::other::test:index:Thing::older"

    def after() -> None:
        _thing("renamed", aliases=[pulumi.Alias(name="thing"), literal])

    assert _thing_of(run(after), "renamed").aliases == [_thing_of(run(lambda: _thing())).urn, literal]


def test_a_provider_s_own_type_aliases_are_left_out_and_the_move_is_kept() -> None:
    # pulumi-kubernetes aliases a NetworkPolicy to extensions/v1beta1: not a move of this program.
    def policy(parent: pulumi.Resource, aliases: list[pulumi.Alias] | None = None) -> None:
        spec = k8s.networking.v1.NetworkPolicySpecArgs(pod_selector=k8s.meta.v1.LabelSelectorArgs())
        k8s.networking.v1.NetworkPolicy("policy", spec=spec, opts=pulumi.ResourceOptions(parent=parent, aliases=aliases))

    def before() -> None:
        Box("new", NEW_BOX)
        policy(Box("old"))

    def after() -> None:
        old = Box("old")
        policy(Box("new", NEW_BOX), [pulumi.Alias(parent=old)])

    def of(evaluation: ProgramEvaluation) -> RecordedResource:
        return one(evaluation, "kubernetes:networking.k8s.io/v1:NetworkPolicy")

    assert of(run(before)).aliases == []
    assert of(run(after)).aliases == [of(run(before)).urn]


def test_a_component_s_type_alias_is_kept() -> None:
    def after() -> None:
        Box("box", "test:index:Crate", pulumi.ResourceOptions(aliases=[pulumi.Alias(type_="test:index:Box")]))

    def before() -> None:
        Box("box")

    crate = one(run(after), "test:index:Crate")
    assert crate.aliases == [one(run(before), "test:index:Box").urn]


def test_a_resource_without_aliases_has_no_aliases_in_the_plan() -> None:
    assert "aliases" not in _thing_of(run(lambda: _thing())).contract()
