"""Compare two plan.json documents: added, removed and changed resources, with the input paths that changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_COMPARED_FIELDS = ("inputs", "protect", "retainOnDelete", "ignoreChanges", "parent", "provider", "dependencies")


@dataclass
class PlanDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def changed_paths(old: Any, new: Any, path: str = "") -> list[str]:
    """The paths (a.b[0].c) at which two JSON values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        paths: list[str] = []
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old or key not in new:
                paths.append(sub)
            else:
                paths.extend(changed_paths(old[key], new[key], sub))
        return paths
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        paths = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            paths.extend(changed_paths(a, b, f"{path}[{i}]"))
        return paths
    return [] if old == new else [path or "(value)"]


def diff_plans(old: dict[str, Any], new: dict[str, Any]) -> PlanDiff:
    before = {r["urn"]: r for r in old["resources"]}
    after = {r["urn"]: r for r in new["resources"]}
    result = PlanDiff(added=sorted(set(after) - set(before)), removed=sorted(set(before) - set(after)))
    for urn in sorted(set(before) & set(after)):
        paths: list[str] = []
        for name in _COMPARED_FIELDS:
            if name == "inputs":
                paths.extend(f"inputs.{p}" for p in changed_paths(before[urn]["inputs"], after[urn]["inputs"]))
            elif before[urn].get(name) != after[urn].get(name):
                paths.append(name)
        if paths:
            result.changed[urn] = paths
    return result


def _short(urn: str) -> str:
    # urn:pulumi:stack::project::a$b$type::name -> type name
    parts = urn.split("::")
    return f"{parts[2].split('$')[-1]} {parts[3]}" if len(parts) >= 4 else urn


def render_text(diff: PlanDiff) -> str:
    if diff.empty:
        return "No changes."
    lines = [f"{len(diff.added)} to add, {len(diff.changed)} to change, {len(diff.removed)} to remove"]
    lines += [f"+ {_short(u)}" for u in diff.added]
    lines += [f"- {_short(u)}" for u in diff.removed]
    for urn, paths in diff.changed.items():
        lines.append(f"~ {_short(urn)}")
        lines += [f"    {p}" for p in paths]
    return "\n".join(lines)


def render_markdown(diff: PlanDiff, title: str = "Offline plan diff") -> str:
    if diff.empty:
        return f"### {title}\n\nNo changes.\n"
    lines = [
        f"### {title}",
        "",
        f"**{len(diff.added)}** to add, **{len(diff.changed)}** to change, **{len(diff.removed)}** to remove",
        "",
        "| | resource | changed inputs |",
        "|---|---|---|",
    ]
    lines += [f"| add | `{_short(u)}` | |" for u in diff.added]
    lines += [f"| remove | `{_short(u)}` | |" for u in diff.removed]
    for urn, paths in diff.changed.items():
        shown = ", ".join(f"`{p}`" for p in paths[:12]) + (f" and {len(paths) - 12} more" if len(paths) > 12 else "")
        lines.append(f"| change | `{_short(urn)}` | {shown} |")
    return "\n".join(lines) + "\n"
