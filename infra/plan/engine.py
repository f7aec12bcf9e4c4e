"""Run the stack program in-process and record what it registers, as the Pulumi engine would receive it.

Each `RegisterResource` request arrives with camelCase inputs with secrets still marked, the parent, the
dependencies, the provider, the resource options (protect, retainOnDelete, ignoreChanges) and the aliases.
Running the program and decoding the requests is the SDK adapter's part (infra/pulumi_sdk.py); this module
decides what the plan keeps of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from infra.pulumi_sdk import ResourceRegistration, run_program_with_monitor

from .redact import normalize_numbers, redact
from .standin_context import Context
from .standins import StandInMocks


@dataclass(frozen=True)
class RecordedResource(ResourceRegistration):
    """A registration as the plan keeps it: dependencies sorted and unique, aliases of moves and renames only."""

    def contract(self) -> dict[str, Any]:
        """The resource as plan.json presents it (secrets redacted, whole numbers as integers)."""
        document = {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "custom": self.custom,
            "remote": self.remote,
            "provider": self.provider,
            "inputs": normalize_numbers(redact(self.inputs)),
            "dependencies": self.dependencies,
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "ignoreChanges": self.ignore_changes,
        }
        # Only when declared: plans of resources that never moved stay as they were before aliases were recorded.
        if self.aliases:
            document["aliases"] = self.aliases
        # Likewise only when set, so that other resources stay byte-identical.
        if self.delete_before_replace:
            document["deleteBeforeReplace"] = True
        return document


@dataclass
class ProgramEvaluation:
    """What one run of a program registered: its resources (sorted by URN) and its stack outputs."""

    resources: list[RecordedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)


def moved_from(registration: ResourceRegistration) -> list[str]:
    """The aliases that record a move or rename: every one a component declares, and a custom resource's except
    the provider's type aliases.

    Provider SDKs alias each resource to the older type tokens of the same resource (pulumi-kubernetes to every
    former API version, pulumi-gcp to a module's former casing): same parents, same name, another type. They say
    nothing about this program, and listing them would put a dozen unchanging lines into every plan.
    """
    if not registration.custom:
        return registration.aliases
    return [urn for urn in registration.aliases if not _is_other_type_of(registration.urn, urn)]


def _is_other_type_of(urn: str, other: str) -> bool:
    # urn:pulumi:STACK::PROJECT::PARENT-TYPE$...$TYPE::NAME (a name may itself contain "::")
    own, old = urn.split("::", 3), other.split("::", 3)
    if len(old) != len(own):
        return False
    stack, project, chain, name = own
    other_stack, other_project, other_chain, other_name = old
    *parents, type_ = chain.split("$")
    *other_parents, other_type = other_chain.split("$")
    return (stack, project, parents, name) == (other_stack, other_project, other_parents, other_name) and type_ != other_type


def recorded_resource(registration: ResourceRegistration) -> RecordedResource:
    """What the plan keeps of one registration."""
    kept = {f.name: getattr(registration, f.name) for f in fields(registration)}
    return RecordedResource(**kept | {"dependencies": sorted(set(registration.dependencies)), "aliases": moved_from(registration)})


class _Recorder:
    """Collects registrations; the SDK reports them from several worker threads at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.recorded: dict[str, RecordedResource] = {}
        self.stack_outputs: dict[str, Any] = {}

    def resource_registered(self, registration: ResourceRegistration) -> None:
        record = recorded_resource(registration)
        with self._lock:
            self.recorded[record.urn] = record

    def stack_outputs_registered(self, outputs: dict[str, Any]) -> None:
        self.stack_outputs = outputs


def evaluate(
    program: Callable[[], None],
    *,
    project: str,
    stack: str,
    config: dict[str, Any],
    secret_keys: list[str],
    ctx: Context,
) -> ProgramEvaluation:
    """Run `program` as stack `stack` with the given config and return what it registered."""
    recorder = _Recorder()
    run_program_with_monitor(
        program,
        project=project,
        stack=stack,
        config=config,
        secret_keys=secret_keys,
        stand_ins=StandInMocks(ctx),
        listener=recorder,
    )
    resources = sorted(recorder.recorded.values(), key=lambda r: r.urn)
    return ProgramEvaluation(resources=resources, outputs=recorder.stack_outputs)
