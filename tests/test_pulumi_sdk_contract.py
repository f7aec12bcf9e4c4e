"""Contract of the Pulumi SDK internals that infra/pulumi_sdk.py relies on, checked against the installed SDK.

An SDK upgrade that renames, removes or reshapes one of them fails here, naming the SDK version and the
internal, instead of breaking the plan or `pulumi up` in some less obvious way. The behaviour through the
adapter is tested in test_pulumi_sdk.py.
"""

from __future__ import annotations

import ast
import contextvars
import importlib
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import mocks, settings
from pulumi.runtime.proto import resource_pb2

from infra.pulumi_sdk import SDK_VERSION
from tests.harness import PROJECT_DIR

ADAPTER = PROJECT_DIR / "infra" / "pulumi_sdk.py"


def _broken(internal: str, problem: str) -> str:
    return (
        f"pulumi SDK {SDK_VERSION}: `{internal}` {problem}. infra/pulumi_sdk.py relies on it: adapt the adapter to "
        "this SDK, or stay on the tested version (README, 'Pulumi SDK versions')."
    )


@dataclass(frozen=True)
class Call:
    """How the adapter calls a function: that many positional arguments, and these keywords."""

    positional: int = 0
    keywords: tuple[str, ...] = ()


FUNCTIONS: dict[str, Call] = {
    "pulumi.runtime.config.get_config_env": Call(),
    "pulumi.runtime.config.is_config_secret": Call(1),
    "pulumi.runtime.config.set_all_config": Call(2),
    "pulumi.runtime.mocks.set_mocks": Call(1, ("project", "stack", "preview", "monitor")),
    "pulumi.runtime.rpc.deserialize_properties": Call(1, ("keep_unknowns",)),
    "pulumi.runtime.rpc.is_rpc_secret": Call(1),
    "pulumi.runtime.rpc.unwrap_rpc_secret": Call(1),
    "pulumi.runtime.stack.run_in_stack": Call(1),
    "pulumi.runtime.sync_await._sync_await": Call(1),
}
CONTEXT_VARIABLES = ["pulumi.runtime.config.CONFIG", "pulumi.runtime.settings.ROOT"]
# Per-deployment state the adapter resets before running a program of its own.
SETTINGS_COLLECTIONS = ["rpc_manager", "outputs"]
# The mock monitor's methods the adapter overrides or calls through super(), with their arguments (besides self).
MONITOR_METHODS: dict[str, Call] = {
    "__init__": Call(1),
    "make_urn": Call(3),
    "RegisterResource": Call(1),
    "RegisterResourceOutputs": Call(1),
    "GetDeploymentInfo": Call(1),
}
# gRPC messages the adapter reads: message -> fields; "?" marks an optional field read through HasField.
REGISTERED_RESOURCE = ["type", "name", "parent", "custom", "remote", "provider", "object", "dependencies"]
REGISTERED_OPTIONS = ["protect?", "retainOnDelete?", "ignoreChanges", "aliases", "aliasURNs"]
MESSAGES: dict[str, list[str]] = {
    "RegisterResourceRequest": REGISTERED_RESOURCE + REGISTERED_OPTIONS,
    "RegisterResourceResponse": ["urn"],
    "RegisterResourceOutputsRequest": ["urn", "outputs"],
    "DeploymentInfo": ["supportedFeatures"],
}
# What RegisterResourceRequest.aliases holds: a URN or a spec, and a spec's parent: a URN or "none".
ALIAS_ONEOFS = {"alias": {"urn", "spec"}}
ALIAS_SPEC_FIELDS = ["name", "type", "stack", "project"]
ALIAS_SPEC_ONEOFS = {"parent": {"parentUrn", "noParent"}}
# Everything under pulumi.runtime the adapter names: the above, plus what is checked by the tests below.
CHECKED = {
    *FUNCTIONS,
    *CONTEXT_VARIABLES,
    "pulumi.runtime.settings.SETTINGS",
    "pulumi.runtime.mocks.MockMonitor",
    *(f"pulumi.runtime.proto.resource_pb2.{message}" for message in MESSAGES),
    "pulumi.runtime.proto.resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES",
}
# pulumi.runtime's documented API for tests, which any module may use.
PUBLIC_RUNTIME = {"Mocks", "MockResourceArgs", "MockCallArgs", "set_mocks", "test"}


def _resolve(dotted: str) -> Any:
    module_name, _, attribute = dotted.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        pytest.fail(_broken(dotted, f"cannot be imported: module {module_name} is gone"))
    if not hasattr(module, attribute):
        pytest.fail(_broken(dotted, "no longer exists"))
    return getattr(module, attribute)


def _assert_callable_as(internal: str, function: Any, call: Call, bound: tuple[Any, ...] = ()) -> None:
    assert callable(function), _broken(internal, "is no longer callable")
    signature = inspect.signature(function)
    try:
        signature.bind(*bound, *([None] * call.positional), **dict.fromkeys(call.keywords))
    except TypeError as error:
        pytest.fail(_broken(internal, f"can no longer be called with {call} (signature now {signature}: {error})"))


@pytest.mark.parametrize("internal", sorted(FUNCTIONS))
def test_functions_exist_with_the_parameters_the_adapter_passes(internal: str) -> None:
    _assert_callable_as(internal, _resolve(internal), FUNCTIONS[internal])


def test_run_in_stack_is_still_a_coroutine_function() -> None:
    assert inspect.iscoroutinefunction(_resolve("pulumi.runtime.stack.run_in_stack")), _broken(
        "pulumi.runtime.stack.run_in_stack", "no longer returns an awaitable (the adapter passes it to _sync_await)"
    )


@pytest.mark.parametrize("internal", CONTEXT_VARIABLES)
def test_context_variables_are_still_context_variables(internal: str) -> None:
    assert isinstance(_resolve(internal), contextvars.ContextVar), _broken(internal, "is no longer a ContextVar")


@pytest.mark.parametrize("collection", SETTINGS_COLLECTIONS)
def test_settings_still_hold_the_per_deployment_collections(collection: str) -> None:
    internal = f"pulumi.runtime.settings.SETTINGS.{collection}"
    assert callable(getattr(getattr(settings.SETTINGS, collection, None), "clear", None)), _broken(internal, "has no clear()")


@pytest.mark.parametrize("method", sorted(MONITOR_METHODS))
def test_the_mock_monitor_still_has_the_methods_the_adapter_overrides(method: str) -> None:
    internal = f"pulumi.runtime.mocks.MockMonitor.{method}"
    assert method in vars(mocks.MockMonitor), _broken(internal, "no longer exists (an override would never be called)")
    _assert_callable_as(internal, getattr(mocks.MockMonitor, method), MONITOR_METHODS[method], bound=(None,))


def test_the_mock_monitor_still_offers_resource_references_the_adapter_declines() -> None:
    internal = "pulumi.runtime.mocks.MockMonitor.GetDeploymentInfo"
    features = mocks.MockMonitor(None).GetDeploymentInfo(None).supportedFeatures  # type: ignore[arg-type, no-untyped-call]
    assert resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES in features, _broken(
        internal, "no longer lists RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES: check how the SDK negotiates features now"
    )


def _message(name: str) -> Any:
    """The protobuf descriptor of a resource_pb2 message."""
    message = getattr(resource_pb2, name, None)
    assert message is not None, _broken(f"pulumi.runtime.proto.resource_pb2.{name}", "no longer exists")
    return message.DESCRIPTOR


def _assert_fields(owner: str, descriptor: Any, fields: list[str]) -> None:
    for field in fields:
        name = field.rstrip("?")
        assert name in descriptor.fields_by_name, _broken(f"{owner}.{name}", "is no longer a field")
        if field.endswith("?"):
            assert descriptor.fields_by_name[name].has_presence, _broken(f"{owner}.{name}", "no longer supports HasField")


def _assert_oneofs(owner: str, descriptor: Any, oneofs: dict[str, set[str]]) -> None:
    for oneof, members in oneofs.items():
        assert oneof in descriptor.oneofs_by_name, _broken(f"{owner} oneof {oneof}", "no longer exists")
        actual = {f.name for f in descriptor.oneofs_by_name[oneof].fields}
        assert actual == members, _broken(f"{owner} oneof {oneof}", f"now holds {sorted(actual)}, not {sorted(members)}")


@pytest.mark.parametrize("message", sorted(MESSAGES))
def test_request_fields_the_adapter_reads_still_exist(message: str) -> None:
    _assert_fields(f"resource_pb2.{message}", _message(message), MESSAGES[message])


def test_alias_messages_still_carry_urns_and_specs() -> None:
    alias = _message("RegisterResourceRequest").fields_by_name["aliases"].message_type
    owner = f"RegisterResourceRequest.aliases ({alias.full_name})"
    _assert_oneofs(owner, alias, ALIAS_ONEOFS)
    spec = alias.fields_by_name["spec"].message_type
    _assert_fields(f"{owner}.spec", spec, ALIAS_SPEC_FIELDS)
    _assert_oneofs(f"{owner}.spec", spec, ALIAS_SPEC_ONEOFS)


def _is_module(dotted: str) -> bool:
    try:
        importlib.import_module(dotted)
    except ImportError:
        return False
    return True


def _runtime_names(tree: ast.Module) -> set[str]:
    """Dotted names under pulumi.runtime that a module imports (modules included) or reads (`module.attribute`)."""
    modules: dict[str, str] = {}
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("pulumi.runtime")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pulumi.runtime"):
            for imported in node.names:
                dotted = f"{node.module}.{imported.name}"
                names.add(dotted)
                if _is_module(dotted):
                    modules[imported.asname or imported.name] = dotted
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            names.add(f"{modules[node.value.id]}.{node.attr}")
        if isinstance(node, ast.Attribute) and ast.unparse(node.value) == "pulumi.runtime":
            names.add(f"pulumi.runtime.{node.attr}")
    return names


def test_every_internal_the_adapter_names_is_checked_here() -> None:
    used = {n for n in _runtime_names(ast.parse(ADAPTER.read_text())) if n.rsplit(".", 1)[1] not in PUBLIC_RUNTIME and not _is_module(n)}
    assert used <= CHECKED, f"infra/pulumi_sdk.py uses internals with no contract check here: {sorted(used - CHECKED)}"


def _python_files() -> list[Path]:
    return [p for area in ("infra", "components", "catalogs", "tests") for p in sorted((PROJECT_DIR / area).rglob("*.py"))]


def _private_pulumi_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pulumi"):
            names |= {f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_")}
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and ast.unparse(node.value).startswith("pulumi"):
            names.add(ast.unparse(node))
    return names


def test_only_the_adapter_touches_sdk_internals() -> None:
    offenders = {}
    for path in _python_files():
        if path in (ADAPTER, Path(__file__)):
            continue
        tree = ast.parse(path.read_text())
        internal = {n for n in _runtime_names(tree) if n.removeprefix("pulumi.runtime.") not in PUBLIC_RUNTIME}
        if found := internal | _private_pulumi_names(tree):
            offenders[str(path.relative_to(PROJECT_DIR))] = sorted(found)
    assert not offenders, f"Pulumi SDK internals outside infra/pulumi_sdk.py (add a typed function there instead): {offenders}"
