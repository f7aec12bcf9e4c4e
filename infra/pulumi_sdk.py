"""The one module that touches Pulumi SDK internals; everything else uses the public API or the functions here.

Pulumi's documented Python API has no way to list the running program's config keys, to run a program in a
stack of its own under a monitor that sees every `RegisterResource` request, or to read a deserialized secret.
Those need SDK internals (`pulumi.runtime.config`, `settings`, `stack`, `sync_await`, `rpc`, `mocks.MockMonitor`
and the gRPC request messages), which may change in any minor release. They are used here only, behind small
typed functions, and tests/test_pulumi_sdk_contract.py checks each of them against the installed SDK, naming
the SDK version and the internal when one has changed (see the README's "Pulumi SDK versions").
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pulumi
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

# The installed SDK, named in the contract test's failure messages.
SDK_VERSION = importlib.metadata.version("pulumi")

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


def stack_config_values() -> tuple[dict[str, Any], frozenset[str]]:
    """The running program's config, keyed `namespace:key` (values as Pulumi passes them: structured values as
    JSON text), and the keys Pulumi holds as secrets."""
    values: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return values, frozenset(key for key in values if runtime_config.is_config_secret(key))


def is_secret(value: Any) -> bool:
    """Whether a deserialized value (such as one of `ResourceRegistration.inputs`) is a wrapped secret."""
    return bool(rpc.is_rpc_secret(value))


def unwrap_secret(value: Any) -> Any:
    """The plain value of a wrapped secret (any other value unchanged)."""
    return rpc.unwrap_rpc_secret(value)


def urn_of(name: str, type_: str, parent: str | None, *, project: str, stack: str) -> str:
    """The URN the Pulumi engine gives a resource: `urn:pulumi:STACK::PROJECT::<parent type chain>$TYPE::NAME`.

    A child's type is prefixed by its parent's whole qualified type; the root stack is no parent (the engine's
    `resource.CreateURN`, and `pulumi.create_urn`, which returns an Output).
    """
    if parent and _qualified_type(parent) != ROOT_STACK_TYPE:
        return f"{parent[: parent.rfind('::')]}${type_}::{name}"
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


def _qualified_type(urn: str) -> str:
    return urn.split("::")[2]


@dataclass(frozen=True)
class ResourceRegistration:
    """One `RegisterResource` request, decoded: what the Pulumi engine would be asked to manage."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    remote: bool
    # The explicit or default provider, by URN (the request names it "<provider urn>::<provider id>").
    provider: str | None
    # camelCase, unknowns kept, secrets still wrapped (see is_secret).
    inputs: dict[str, Any]
    dependencies: list[str]
    protect: bool
    retain_on_delete: bool
    ignore_changes: list[str]
    # The URNs the resource declares it had before (resource option `aliases`), in declaration order, once each.
    aliases: list[str]
    # Resource option `delete_before_replace`: delete the old resource before creating its replacement.
    delete_before_replace: bool = False


class RegistrationListener(Protocol):
    """What run_program_with_monitor reports. Called from the SDK's worker threads, possibly concurrently."""

    def resource_registered(self, registration: ResourceRegistration) -> None: ...

    def stack_outputs_registered(self, outputs: dict[str, Any]) -> None: ...


def _declared_alias_urns(request: Any, *, project: str, stack: str) -> list[str]:
    """The old URNs a `RegisterResourceRequest` declares, resolved as the engine resolves them.

    An alias spec leaves out what did not change: no name, type, project or stack means the resource's own; no
    parent means its current parent; `noParent` means it had none. Aliases a parent's aliases imply for its
    children are the engine's to derive and are not listed.
    """
    urns: list[str] = list(request.aliasURNs)  # sent instead of aliases to engines without alias specs
    for alias in request.aliases:
        if alias.WhichOneof("alias") == "urn":
            urns.append(alias.urn)
            continue
        spec = alias.spec
        parent = None if spec.noParent else (spec.parentUrn or request.parent or None)
        urns.append(
            urn_of(
                spec.name or request.name,
                spec.type or request.type,
                parent,
                project=spec.project or project,
                stack=spec.stack or stack,
            )
        )
    return list(dict.fromkeys(urns))


class _ListeningMonitor(mocks.MockMonitor):
    """The SDK's mock monitor (which calls the stand-in Mocks), reporting each registration to a listener."""

    def __init__(self, stand_ins: pulumi.runtime.Mocks, listener: RegistrationListener, *, project: str, stack: str) -> None:
        super().__init__(stand_ins)
        self._listener = listener
        self._project = project
        self._stack = stack
        self._stack_urn: str | None = None

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The mock prefixes only the parent's own type and keeps the stack's; the engine does neither.
        return urn_of(name, type_, parent, project=self._project, stack=self._stack)

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == ROOT_STACK_TYPE:
            self._stack_urn = response.urn
            return response
        self._listener.resource_registered(
            ResourceRegistration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                custom=bool(request.custom),
                remote=bool(request.remote),
                provider=request.provider.rsplit("::", 1)[0] if request.provider else None,
                inputs=rpc.deserialize_properties(request.object, keep_unknowns=True),
                dependencies=list(request.dependencies),
                # Optional fields: unset means the engine's default, false.
                protect=request.protect if request.HasField("protect") else False,
                retain_on_delete=request.retainOnDelete if request.HasField("retainOnDelete") else False,
                ignore_changes=list(request.ignoreChanges),
                aliases=_declared_alias_urns(request, project=self._project, stack=self._stack),
                delete_before_replace=bool(request.deleteBeforeReplace),
            )
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        if request.urn == self._stack_urn:
            self._listener.stack_outputs_registered(rpc.deserialize_properties(request.outputs, keep_unknowns=True))
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]

    def GetDeploymentInfo(self, request: Any) -> Any:  # noqa: N802
        # Resource references are declined: a resource passed into another (an EKS cluster into a remote
        # component) then arrives as its URN instead of being rebuilt on another event loop, which fails.
        info = super().GetDeploymentInfo(request)  # type: ignore[no-untyped-call]
        features = [f for f in info.supportedFeatures if f != resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES]
        return resource_pb2.DeploymentInfo(supportedFeatures=features)


def run_program_with_monitor(
    program: Callable[[], None],
    *,
    project: str,
    stack: str,
    config: Mapping[str, Any],
    secret_keys: Sequence[str],
    stand_ins: pulumi.runtime.Mocks,
    listener: RegistrationListener,
) -> None:
    """Run `program` in a stack of its own, as `pulumi up` would, with no engine: `stand_ins` answer for the
    clouds and `listener` hears every registration.

    `config` is keyed `namespace:key`; values that are not strings are passed as JSON, as Pulumi passes them.
    """
    monitor = _ListeningMonitor(stand_ins, listener, project=project, stack=stack)
    settings.ROOT.set(None)
    runtime_config.set_all_config({k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}, list(secret_keys))
    mocks.set_mocks(stand_ins, project=project, stack=stack, preview=False, monitor=monitor)
    # set_mocks made a throwaway root; the program runs in a stack of its own, like under `pulumi up`.
    settings.ROOT.set(None)
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    _sync_await(run_in_stack(program))
