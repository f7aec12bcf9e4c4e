"""How a changed input reads in a diff: `old → new` for scalars, a compact structural diff for lists and maps,
a unified diff for long documents (policies, startup scripts, chart values) and for Kubernetes manifests.

Values come from plan.json, where secrets are already "[secret]" (redact.py): nothing here can reveal one.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

import yaml

from .render import manifest_yaml

MISSING = object()
_STEP = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")
# A string longer than this, or with a newline, is a document: shown as a unified diff, not inline.
_INLINE_LIMIT = 100
# A map or list with more changed leaves than this is shown as a unified diff of its YAML.
_LEAVES_INLINE = 4


def changed_leaves(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """The paths (a.b[0].c) at which two JSON values differ, with the value on each side (MISSING if absent)."""
    if isinstance(old, dict) and isinstance(new, dict):
        leaves: list[tuple[str, Any, Any]] = []
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old or key not in new:
                leaves.append((sub, old.get(key, MISSING), new.get(key, MISSING)))
            else:
                leaves.extend(changed_leaves(old[key], new[key], sub))
        return leaves
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        leaves = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            leaves.extend(changed_leaves(a, b, f"{path}[{i}]"))
        return leaves
    return [] if old == new else [(path or "(value)", old, new)]


def changed_paths(old: Any, new: Any, path: str = "") -> list[str]:
    return [leaf for leaf, _, _ in changed_leaves(old, new, path)]


def value_at(document: Any, path: str) -> Any:
    """The value at a path of changed_paths, or MISSING."""
    value = document
    for key, index in _STEP.findall(path):
        if index:
            if not isinstance(value, list) or int(index) >= len(value):
                return MISSING
            value = value[int(index)]
        else:
            if not isinstance(value, dict) or key not in value:
                return MISSING
            value = value[key]
    return value


def scalar(value: Any) -> str:
    if value is MISSING:
        return "(none)"
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _is_document(value: Any) -> bool:
    """Long text, several lines, or a JSON object or array (an IAM policy) kept as a string."""
    if not isinstance(value, str):
        return False
    if len(value) > _INLINE_LIMIT or "\n" in value:
        return True
    try:
        return isinstance(json.loads(value), dict | list)
    except ValueError:
        return False


def pretty(value: Any) -> list[str]:
    """A value as the lines of its most readable form: JSON documents indented, YAML-like text as is."""
    if value is MISSING:
        return []
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value.splitlines()
        if isinstance(parsed, dict | list):
            return json.dumps(parsed, indent=2, sort_keys=True).splitlines()
        return value.splitlines()
    return yaml.safe_dump(value, sort_keys=True, default_flow_style=False, allow_unicode=True).splitlines()


def unified(old_lines: list[str], new_lines: list[str], old_label: str, new_label: str, context: int = 2) -> list[str]:
    return [line.rstrip("\n") for line in difflib.unified_diff(old_lines, new_lines, old_label, new_label, n=context, lineterm="")]


def list_change(old: list[Any], new: list[Any]) -> str:
    """A list of another length: the items that left and came, as `- a + b` (order kept)."""
    old_keys = [scalar(v) for v in old]
    new_keys = [scalar(v) for v in new]
    removed = [k for k in old_keys if k not in new_keys]
    added = [k for k in new_keys if k not in old_keys]
    if not removed and not added:
        return f"{len(old)} → {len(new)} items"
    return " ".join([*(f"- {k}" for k in removed), *(f"+ {k}" for k in added)])


def value_change(path: str, old: Any, new: Any) -> list[str]:
    """The lines that show one changed path."""
    if _is_document(old) or _is_document(new):
        return [f"{path}:", *unified(pretty(old), pretty(new), "before", "after")]
    if isinstance(old, list) and isinstance(new, list):
        return [f"{path}: {list_change(old, new)}"]
    return [f"{path}: {scalar(old)} → {scalar(new)}"]


def input_changes(old_inputs: dict[str, Any], new_inputs: dict[str, Any]) -> list[str]:
    """Every changed input, grouped by top-level input: a large map or list as a unified diff of its YAML."""
    lines: list[str] = []
    for key in sorted(set(old_inputs) | set(new_inputs)):
        old, new = old_inputs.get(key, MISSING), new_inputs.get(key, MISSING)
        if old == new:
            continue
        leaves = changed_leaves(old, new, key) if old is not MISSING and new is not MISSING else [(key, old, new)]
        structured = isinstance(old, dict | list) or isinstance(new, dict | list)
        if structured and len(leaves) > _LEAVES_INLINE:
            lines += [f"{key}: {len(leaves)} changes", *unified(pretty(old), pretty(new), "before", "after")]
            continue
        for leaf, before, after in leaves:
            lines += value_change(leaf, before, after)
    return lines


def manifest_diff(old_object: dict[str, Any] | None, new_object: dict[str, Any] | None) -> list[str]:
    """A Kubernetes object's change as `kubectl diff` shows it: a unified diff of the rendered manifests."""
    some = new_object or old_object or {}
    metadata = some.get("metadata") or {}
    label = f"{some.get('kind', 'Object')}/{metadata.get('namespace') or 'cluster'}/{metadata.get('name', '?')}"
    old_lines = manifest_yaml(old_object).splitlines() if old_object else []
    new_lines = manifest_yaml(new_object).splitlines() if new_object else []
    return unified(old_lines, new_lines, f"live/{label}", f"merged/{label}", context=3)
