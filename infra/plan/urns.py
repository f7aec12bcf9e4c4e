"""URNs and names with the stack taken out, so that the same resource of two stacks compares equal."""

from __future__ import annotations

import re
from typing import Any

STACK_PLACEHOLDER = "{stack}"


def without_stack(urn: str, project: str, stack: str) -> str:
    """`urn:pulumi:STACK::PROJECT::...` with the stack part removed (also where a name embeds `<project>-<stack>`)."""
    prefix = f"urn:pulumi:{stack}::"
    bare = f"urn:pulumi::{urn[len(prefix) :]}" if urn.startswith(prefix) else urn
    return normalize_text(bare, project, stack)


def normalize_text(text: str, project: str, stack: str) -> str:
    """Physical names embed the stack as `<project>-<stack>` (the autonaming pattern) or as a path segment."""
    if not stack:
        return text
    text = text.replace(f"{project}-{stack}", f"{project}-{STACK_PLACEHOLDER}")
    return re.sub(rf"(?<![A-Za-z0-9]){re.escape(stack)}(?![A-Za-z0-9])", STACK_PLACEHOLDER, text)


def normalize_value(value: Any, project: str, stack: str) -> Any:
    if isinstance(value, str):
        return normalize_text(value, project, stack)
    if isinstance(value, dict):
        return {normalize_text(k, project, stack): normalize_value(v, project, stack) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_value(v, project, stack) for v in value]
    return value
