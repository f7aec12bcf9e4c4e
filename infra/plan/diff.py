"""Compare two plan.json documents as `pulumi preview` would: the operation on each resource, the values that
change, what is blocked or lost, and the change in estimated cost. Rendered as text or as a PR-comment markdown."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .cost_delta import CostDelta, cost_delta, cost_line_texts, cost_summary
from .diff_values import input_changes, manifest_diff
from .operations import Operation, ResourceChange, plan_changes
from .render import is_kubernetes_object_type


@dataclass
class PlanDiff:
    old: dict[str, Any]
    new: dict[str, Any]
    changes: list[ResourceChange]
    cost: CostDelta
    # New URN -> old URN of resources moved or renamed with an alias (kept by the engine, not replaced).
    moved: dict[str, str]

    @property
    def empty(self) -> bool:
        return not self.changes and not self.moved

    @property
    def blocked(self) -> list[ResourceChange]:
        return [c for c in self.changes if c.blocked]

    def of(self, operation: Operation) -> list[ResourceChange]:
        return [c for c in self.changes if c.operation is operation]

    def resource(self, urn: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        return self._before.get(self.moved.get(urn, urn)), self._after.get(urn)

    def __post_init__(self) -> None:
        self._before = {r["urn"]: r for r in self.old["resources"]}
        self._after = {r["urn"]: r for r in self.new["resources"]}


def diff_plans(old: dict[str, Any], new: dict[str, Any]) -> PlanDiff:
    changes, moved = plan_changes(old, new)
    return PlanDiff(old, new, changes, cost_delta(old, new), moved)


def short(urn: str) -> str:
    # urn:pulumi:stack::project::a$b$type::name -> type name
    parts = urn.split("::", 3)
    return f"{parts[2].split('$')[-1]} {parts[3]}" if len(parts) == 4 else urn


def component_of(diff: PlanDiff, change: ResourceChange) -> str:
    """The parent chain of a resource, outermost component first ("(stack)" for top-level resources)."""
    chain: list[str] = []
    old, new = diff.resource(change.urn)
    parent = (new or old or {}).get("parent")
    seen: set[str] = set()
    while parent and parent not in seen:
        seen.add(parent)
        before, after = diff.resource(parent)
        record = after or before
        if record is None:
            break
        chain.append(short(parent))
        parent = record.get("parent")
    return " / ".join(reversed(chain)) or "(stack)"


def counts_line(diff: PlanDiff) -> str:
    counts = Counter(c.operation for c in diff.changes)
    parts = [f"{counts[op]} to {op.value}" for op in Operation]
    if diff.blocked:
        parts.append(f"{len(diff.blocked)} BLOCKED")
    if diff.moved:
        parts.append(f"{len(diff.moved)} moved (aliases: kept, not replaced)")
    return ", ".join(parts)


def headline(change: ResourceChange) -> str:
    text = f"{change.symbol} {change.label} {short(change.urn)}"
    if change.replace_paths:
        text += f" (forces new: {', '.join(change.replace_paths)})"
    if change.blocked:
        text = f"BLOCKED {text}: protected, pulumi up would stop"
    return text


def detail_lines(diff: PlanDiff, change: ResourceChange) -> list[str]:
    """What changes in one resource: a manifest diff for a Kubernetes object, else each changed input."""
    old, new = diff.resource(change.urn)
    lines: list[str] = [f"WARNING {w}" for w in change.warnings]
    if change.operation is Operation.UPDATE or change.operation is Operation.REPLACE:
        assert old is not None and new is not None
        lines += [f"{field}: {old.get(field)!r} → {new.get(field)!r}" for field in change.other_fields if field != "dependencies"]
        if "dependencies" in change.other_fields:
            lines.append("dependencies changed")
        if is_kubernetes_object_type(change.type) and change.input_paths:
            lines += manifest_diff(old["inputs"], new["inputs"])
        else:
            lines += input_changes(old["inputs"], new["inputs"])
    return lines


def render_text(diff: PlanDiff) -> str:
    cost = [cost_summary(diff.cost), *(f"  {line}" for line in cost_line_texts(diff.cost))]
    if diff.empty:
        return "\n".join(["No changes.", *cost])
    lines = [counts_line(diff), *cost]
    lines += [f"= moved {short(new)} (was {short(old)})" for new, old in sorted(diff.moved.items())]
    by_component: dict[str, list[ResourceChange]] = {}
    for change in diff.changes:
        by_component.setdefault(component_of(diff, change), []).append(change)
    for component, changes in by_component.items():
        lines += ["", f"{component}:"]
        for change in changes:
            lines.append(f"  {headline(change)}")
            lines += [f"      {line}" for line in detail_lines(diff, change)]
    return "\n".join(lines)


def fenced(text: str, language: str = "diff") -> str:
    """A code block whose fence is longer than any run of backticks inside (a value may contain one)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}\n"


_SECTION_LIMIT = 40
DETAILS_MARKER = "<!-- ai-serving-details -->"


def _section(title: str, changes: list[ResourceChange]) -> list[str]:
    if not changes:
        return []
    lines = ["", f"#### {title}", ""]
    for change in changes[:_SECTION_LIMIT]:
        line = f"- `{change.symbol}` {change.label} `{short(change.urn)}`"
        if change.replace_paths:
            line += f": forces new `{'`, `'.join(change.replace_paths)}`"
        lines.append(line)
        lines += [f"  - :warning: {w}" for w in change.warnings]
    if len(changes) > _SECTION_LIMIT:
        lines.append(f"- and {len(changes) - _SECTION_LIMIT} more")
    return lines


def render_markdown(diff: PlanDiff, title: str = "Offline plan diff", max_chars: int | None = None) -> str:
    """Summary first (counts per operation, cost delta), then blocked/replace/delete, then details collapsed.

    With `max_chars`, details are cut (with a note) so that the whole stays within it; the summary and the
    blocked/replace/delete sections never are.
    """
    summary = [f"### {title}", ""]
    if diff.empty:
        summary.append("**No changes.** " + cost_summary(diff.cost))
        return "\n".join(summary) + "\n"
    summary.append(f"**{counts_line(diff)}** · {cost_summary(diff.cost)}")
    summary += _section("Blocked: protected resources `pulumi up` would refuse to delete or replace", diff.blocked)
    summary += _section("Replace", [c for c in diff.of(Operation.REPLACE) if not c.blocked])
    summary += _section("Delete", [c for c in diff.of(Operation.DELETE) if not c.blocked])
    if diff.moved:
        summary += ["", "#### Moved (aliases: kept, not replaced)", ""]
        summary += [f"- `{short(new)}` (was `{short(old)}`)" for new, old in sorted(diff.moved.items())[:_SECTION_LIMIT]]
    if cost_line_texts(diff.cost):
        summary += ["", "#### Cost change by line", "", *(f"- {t}" for t in cost_line_texts(diff.cost))]
    head = "\n".join(summary) + "\n"
    blocks: list[str] = []
    by_component: dict[str, list[ResourceChange]] = {}
    for change in diff.changes:
        by_component.setdefault(component_of(diff, change), []).append(change)
    for component, changes in by_component.items():
        for index, change in enumerate(changes):
            heading = f"**{component}**\n\n" if index == 0 else ""
            body = detail_lines(diff, change)
            block = f"{heading}`{headline(change)}`\n"
            if body:
                block += "\n" + fenced("\n".join(body))
            blocks.append(block)
    opening = f"\n{DETAILS_MARKER}\n<details><summary>Details: {len(diff.changes)} resources, by component</summary>\n\n"
    closing = "\n</details>\n"
    budget = None if max_chars is None else max_chars - len(head) - len(opening) - len(closing) - 200
    shown: list[str] = []
    for block in blocks:
        if budget is not None and sum(len(b) + 1 for b in shown) + len(block) > budget:
            omitted = len(blocks) - len(shown)
            shown.append(f"_Truncated: {omitted} more resources not shown here; the full diff is in the PR checks run summary._\n")
            break
        shown.append(block)
    return head + opening + "\n".join(shown) + closing
