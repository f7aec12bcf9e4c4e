"""Warnings for values in a stack file that are placeholders, not deployable settings.

The checked-in stacks are examples: an all-zero image digest is syntactically valid (so the plan can evaluate
the program) but no registry serves it. The plan says so instead of letting it pass silently.
"""

from __future__ import annotations

import re
from typing import Any

_ZERO_DIGEST = re.compile(r"sha256:0{64}")


def placeholder_warnings(config: dict[str, Any]) -> list[str]:
    """One line per config value that carries a placeholder image digest."""
    found: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]")
        elif isinstance(value, str) and _ZERO_DIGEST.search(value):
            found.append(f"{path}: placeholder image digest (all zeros); set the real digest before `pulumi up`")

    for key, value in sorted(config.items()):
        walk(value, key)
    return found
