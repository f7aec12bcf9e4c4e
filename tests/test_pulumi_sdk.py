"""The SDK adapter at work: tiny programs run through infra/pulumi_sdk.py, and what comes back out of it."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from infra.config import read_pulumi_config
from infra.pulumi_sdk import (
    ResourceRegistration,
    is_secret,
    run_program_with_monitor,
    stack_config_values,
    unwrap_secret,
    urn_of,
)

STACK_URN = "urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev"


class EchoMocks(pulumi.runtime.Mocks):
    """Every resource's outputs are its inputs, its id `<name>-id`."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, []


class Collected:
    def __init__(self) -> None:
        self.registrations: dict[str, ResourceRegistration] = {}
        self.outputs: dict[str, Any] = {}

    def resource_registered(self, registration: ResourceRegistration) -> None:
        self.registrations[registration.name] = registration

    def stack_outputs_registered(self, outputs: dict[str, Any]) -> None:
        self.outputs = outputs


class Box(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("test:index:Box", name, None, opts)


def _run(program: Any, config: dict[str, Any] | None = None, secret_keys: list[str] | None = None) -> Collected:
    collected = Collected()
    run_program_with_monitor(
        program,
        project="proj",
        stack="dev",
        config=config or {},
        secret_keys=secret_keys or [],
        stand_ins=EchoMocks(),
        listener=collected,
    )
    return collected


def test_a_program_round_trips_its_resources_options_config_and_outputs() -> None:
    seen_config: list[tuple[dict[str, Any], frozenset[str]]] = []

    def program() -> None:
        seen_config.append(stack_config_values())
        cfg = pulumi.Config("proj")
        box = Box("box")
        provider = pulumi.ProviderResource("test", "prov")
        thing = pulumi.CustomResource(
            "test:index:Thing",
            "thing",
            {"token": cfg.require_secret("token"), "sizes": cfg.require_object("sizes")},
            pulumi.ResourceOptions(parent=box, provider=provider, protect=True, retain_on_delete=True, ignore_changes=["sizes"]),
        )
        pulumi.export("thingId", thing.id)

    collected = _run(program, {"proj:token": "s3cret", "proj:sizes": [1, 2], "aws:region": "eu-west-1"}, ["proj:token"])

    values, secret_keys = seen_config[0]
    assert values == {"proj:token": "s3cret", "proj:sizes": "[1, 2]", "aws:region": "eu-west-1"}
    assert secret_keys == {"proj:token"}
    thing = collected.registrations["thing"]
    assert thing.urn == "urn:pulumi:dev::proj::test:index:Box$test:index:Thing::thing"
    assert (thing.type, thing.parent, thing.custom, thing.remote) == ("test:index:Thing", collected.registrations["box"].urn, True, False)
    assert is_secret(thing.inputs["token"]) and unwrap_secret(thing.inputs["token"]) == "s3cret"
    assert thing.inputs["sizes"] == [1, 2]
    assert (thing.protect, thing.retain_on_delete, thing.ignore_changes, thing.aliases) == (True, True, ["sizes"], [])
    assert thing.provider == "urn:pulumi:dev::proj::pulumi:providers:test::prov"
    assert collected.outputs == {"thingId": "thing-id"}
    assert "proj-dev" not in collected.registrations, "the root stack is not reported as a resource"


def test_unset_resource_options_are_the_engine_defaults() -> None:
    collected = _run(lambda: pulumi.CustomResource("test:index:Thing", "plain", {}) and None)
    plain = collected.registrations["plain"]
    assert (plain.parent, plain.protect, plain.retain_on_delete, plain.ignore_changes) == (STACK_URN, False, False, [])


def test_read_pulumi_config_keeps_the_project_keys_decoded_and_marks_the_secret_ones() -> None:
    values = {
        "ai-serving:tier": "staging",
        "ai-serving:hfToken": "x",
        "ai-serving:network": '{"cidr": "10.0.0.0/16"}',
        "aws:region": "us-west-2",
    }
    raw, region, encrypted = read_pulumi_config(values, frozenset({"ai-serving:hfToken", "aws:region"}))
    assert raw == {"tier": "staging", "hfToken": "x", "network": {"cidr": "10.0.0.0/16"}}
    assert region == "us-west-2"
    assert encrypted == frozenset({"hfToken"})


def test_a_resource_passed_into_another_arrives_as_its_id_not_a_reference() -> None:
    # With resource references the mock monitor rebuilds an aws.ec2.Vpc on its own event loop and the run hangs;
    # the adapter declines them, so the run must finish and the reference must be the plain id.
    def program() -> None:
        vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")
        pulumi.CustomResource("test:index:User", "user", {"vpc": vpc, "box": Box("box")})

    result: list[Collected] = []

    def run_on_a_loop_of_its_own() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        result.append(_run(program))

    runner = threading.Thread(target=run_on_a_loop_of_its_own, daemon=True)
    runner.start()
    runner.join(timeout=30)
    assert result, "the program did not finish: resource references are no longer declined (see infra/pulumi_sdk.py)"
    user = result[0].registrations["user"]
    assert user.inputs == {"vpc": "vpc-id", "box": "urn:pulumi:dev::proj::test:index:Box::box"}
    assert result[0].registrations["vpc"].urn in user.dependencies


def test_a_grandchild_urn_carries_the_whole_parent_type_chain_like_the_engine() -> None:
    def program() -> None:
        outer = Box("outer")
        inner = pulumi.ComponentResource("test:index:Inner", "inner", None, pulumi.ResourceOptions(parent=outer))
        pulumi.CustomResource("test:index:Thing", "leaf", {}, pulumi.ResourceOptions(parent=inner))

    leaf = _run(program).registrations["leaf"]
    assert leaf.urn == "urn:pulumi:dev::proj::test:index:Box$test:index:Inner$test:index:Thing::leaf"


@pytest.mark.parametrize(
    ("parent", "expected"),
    [
        (None, "urn:pulumi:dev::proj::test:index:Thing::t"),
        (STACK_URN, "urn:pulumi:dev::proj::test:index:Thing::t"),
        ("urn:pulumi:dev::proj::test:index:Box::b", "urn:pulumi:dev::proj::test:index:Box$test:index:Thing::t"),
        ("urn:pulumi:dev::proj::a:b:C$test:index:Box::b", "urn:pulumi:dev::proj::a:b:C$test:index:Box$test:index:Thing::t"),
    ],
)
def test_urn_of_follows_the_engine(parent: str | None, expected: str) -> None:
    assert urn_of("t", "test:index:Thing", parent, project="proj", stack="dev") == expected


def test_urn_of_agrees_with_pulumi_create_urn_for_a_parent() -> None:
    parent = "urn:pulumi:dev::proj::a:b:C$test:index:Box::b"
    created: list[str] = []
    _run(lambda: pulumi.create_urn("t", "test:index:Thing", parent).apply(created.append) and None)
    assert created == [urn_of("t", "test:index:Thing", parent, project="proj", stack="dev")]
