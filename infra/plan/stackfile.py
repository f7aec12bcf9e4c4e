"""Read Pulumi.<stack>.yaml the way the Pulumi CLI would hand it to the program, without decrypting anything."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.input_files import InputFileError, load_strict

PROJECT_FILE = "Pulumi.yaml"


@dataclass(frozen=True)
class StackFile:
    project: str
    stack: str
    config: dict[str, Any]
    secret_keys: list[str]
    # Provider package -> autonaming pattern, from Pulumi.yaml's `pulumi:autonaming` (see the README).
    autonaming: dict[str, str]


class StackFileError(Exception):
    """One line per problem, each naming the file (and line:column where it applies)."""


def find_project_dir(start: Path) -> Path:
    for candidate in [start, *start.parents]:
        if (candidate / PROJECT_FILE).is_file():
            return candidate
    raise StackFileError(f"no {PROJECT_FILE} in {start} or any parent directory")


def secret_stand_in(key: str) -> str:
    """What the plan puts where a `secure:` value is: never the ciphertext, never a real secret."""
    return f"offline-plan-stand-in-for-{key}"


def read_stack_file(project_dir: Path, stack: str) -> StackFile:
    project_document = _read(project_dir, PROJECT_FILE)
    project = project_document.get("name")
    if not isinstance(project, str) or not project:
        raise StackFileError(f"{PROJECT_FILE}: `name` (the project name) is missing or not a string")
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        available = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in project_dir.glob("Pulumi.*.yaml"))
        raise StackFileError(f"unknown stack {stack!r}: no stack file {path.name}; stacks here: {', '.join(available) or 'none'}")
    document = _read(project_dir, path.name)
    entries = document.get("config")
    if not isinstance(entries, dict):
        raise StackFileError(f"{path.name}: `config` must be a mapping of keys to values (got {type(entries).__name__})")
    config: dict[str, Any] = {}
    secret_keys: list[str] = []
    for key, value in entries.items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[full_key] = secret_stand_in(full_key)
            secret_keys.append(full_key)
        else:
            config[full_key] = value
    return StackFile(
        project=project,
        stack=stack,
        config=config,
        secret_keys=sorted(secret_keys),
        autonaming=autonaming_patterns(project_document),
    )


def _read(project_dir: Path, name: str) -> dict[str, Any]:
    try:
        document: dict[str, Any] = load_strict(project_dir / name, name)
    except InputFileError as err:
        raise StackFileError(str(err)) from None
    return document


def autonaming_patterns(project_document: dict[str, Any]) -> dict[str, str]:
    """Per-provider name patterns from the project's `pulumi:autonaming` setting."""
    setting = ((project_document.get("config") or {}).get("pulumi:autonaming") or {}).get("value") or {}
    return {provider: spec["pattern"] for provider, spec in (setting.get("providers") or {}).items() if "pattern" in spec}
