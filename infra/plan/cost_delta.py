"""The change in estimated monthly cost between two plans, from their `cost` sections (written by `ai-serving
plan`; contract in docs/delivery.md): totals at minimum and maximum scale, and the lines that cause it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .urns import without_stack


@dataclass(frozen=True)
class LineChange:
    key: str
    item: str
    old: dict[str, float] | None
    new: dict[str, float] | None

    def delta(self, scale: str) -> float:
        return (self.new or {}).get(scale, 0.0) - (self.old or {}).get(scale, 0.0)


@dataclass(frozen=True)
class CostDelta:
    # None: that plan has no cost section.
    old_totals: dict[str, float] | None
    new_totals: dict[str, float] | None
    lines: tuple[LineChange, ...] = ()


def _lines(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, float]]:
    result: dict[tuple[str, str], dict[str, float]] = {}
    for line in document["cost"].get("lines", []):
        key = (
            without_stack(line["urn"], document.get("project", ""), document.get("stack", ""))
            if line.get("urn")
            else line.get("component", "")
        )
        result[(key, line["item"])] = line["monthly"]
    return result


def cost_delta(old: dict[str, Any], new: dict[str, Any]) -> CostDelta:
    old_totals = old["cost"]["totals"] if "cost" in old else None
    new_totals = new["cost"]["totals"] if "cost" in new else None
    if old_totals is None or new_totals is None:
        return CostDelta(old_totals, new_totals)
    before, after = _lines(old), _lines(new)
    changed = [LineChange(key, item, before.get((key, item)), after.get((key, item))) for key, item in sorted(set(before) | set(after))]
    moving = [c for c in changed if abs(c.delta("min")) >= 0.005 or abs(c.delta("max")) >= 0.005]
    moving.sort(key=lambda c: -max(abs(c.delta("min")), abs(c.delta("max"))))
    return CostDelta(old_totals, new_totals, tuple(moving))


def money(value: float, signed: bool = False) -> str:
    text = f"${abs(value):,.0f}"
    if signed:
        return ("+" if value >= 0 else "-") + text
    return text if value >= 0 else f"-{text}"


def cost_summary(delta: CostDelta) -> str:
    """One line for the summary: monthly min/max before → after with the change, or why there is none."""
    if delta.old_totals is None and delta.new_totals is None:
        return "cost: not in either plan"
    if delta.old_totals is None:
        return "cost: not in base plan"
    if delta.new_totals is None:
        return "cost: not in head plan"
    parts = []
    for scale in ("min", "max"):
        before, after = delta.old_totals[scale], delta.new_totals[scale]
        parts.append(f"{scale} {money(before)} → {money(after)} ({money(after - before, signed=True)})")
    return "cost/month " + ", ".join(parts)


def cost_line_texts(delta: CostDelta, limit: int = 10) -> list[str]:
    """The lines that cause the change, largest first."""
    texts = []
    for change in delta.lines[:limit]:
        where = change.key.rsplit("::", 1)[-1]
        state = "new" if change.old is None else "gone" if change.new is None else "changed"
        texts.append(
            f"{where}: {change.item} ({state}): min {money(change.delta('min'), signed=True)}, max {money(change.delta('max'), signed=True)}"
        )
    if len(delta.lines) > limit:
        texts.append(f"and {len(delta.lines) - limit} more cost lines")
    return texts
