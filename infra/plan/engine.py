"""Run the stack program in-process against a recording mock monitor.

The recording monitor sees each `RegisterResource` request exactly as the Pulumi engine would: camelCase
inputs with secrets still marked, the parent, the dependencies, the provider and the resource options
(protect, retainOnDelete, ignoreChanges). Resource references are declined (see REFERENCE.md: components
passed into remote components then arrive as URNs instead of failing on another event loop).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from .redact import normalize_numbers, redact
from .standins import Context, StandInMocks


@dataclass
class RecordedResource:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    remote: bool
    provider: str | None
    inputs: dict[str, Any]
    dependencies: list[str]
    protect: bool
    retain_on_delete: bool
    ignore_changes: list[str]

    def contract(self) -> dict[str, Any]:
        """The resource as plan.json presents it (secrets redacted, whole numbers as integers)."""
        return {
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


@dataclass
class Evaluation:
    resources: list[RecordedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)


class RecordingMonitor(mocks.MockMonitor):
    def __init__(self, stand_ins: mocks.Mocks) -> None:
        super().__init__(stand_ins)
        self._lock = threading.Lock()
        self.recorded: dict[str, RecordedResource] = {}
        self.stack_outputs: dict[str, Any] = {}
        self._stack_urn: str | None = None

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine leaves the stack out of its children's qualified type, as a real `pulumi up` does.
        if "::pulumi:pulumi:Stack::" in parent:
            parent = ""
        return super().make_urn(parent, type_, name)

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            self._stack_urn = response.urn
            return response
        provider_ref = request.provider or None
        record = RecordedResource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            custom=bool(request.custom),
            remote=bool(request.remote),
            # A provider reference is "<provider urn>::<provider id>"; the plan names the provider by its URN.
            provider=provider_ref.rsplit("::", 1)[0] if provider_ref else None,
            inputs=rpc.deserialize_properties(request.object, keep_unknowns=True),
            dependencies=sorted(set(request.dependencies)),
            protect=request.protect if request.HasField("protect") else False,
            retain_on_delete=request.retainOnDelete if request.HasField("retainOnDelete") else False,
            ignore_changes=list(request.ignoreChanges),
        )
        with self._lock:
            self.recorded[response.urn] = record
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        if request.urn == self._stack_urn:
            self.stack_outputs = rpc.deserialize_properties(request.outputs, keep_unknowns=True)
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]

    def SupportsFeature(self, request: Any) -> Any:  # noqa: N802
        if request.id == "resourceReferences":
            return type("SupportsFeatureResponse", (object,), {"hasSupport": False})
        return super().SupportsFeature(request)  # type: ignore[no-untyped-call]


def evaluate(
    program: Callable[[], None],
    *,
    project: str,
    stack: str,
    config: dict[str, Any],
    secret_keys: list[str],
    ctx: Context,
) -> Evaluation:
    """Run `program` as stack `stack` with the given config and return what it registered."""
    monitor = RecordingMonitor(StandInMocks(ctx))
    settings.ROOT.set(None)
    runtime_config.set_all_config({k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}, secret_keys)
    mocks.set_mocks(StandInMocks(ctx), project=project, stack=stack, preview=False, monitor=monitor)
    # set_mocks made a throwaway root; the program runs in a stack of its own, like under `pulumi up`.
    settings.ROOT.set(None)
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    _sync_await(run_in_stack(program))
    resources = sorted(monitor.recorded.values(), key=lambda r: r.urn)
    return Evaluation(resources=resources, outputs=monitor.stack_outputs)
