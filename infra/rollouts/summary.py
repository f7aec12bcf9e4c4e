"""The GitHub job summary of a deploy's verdict (markdown for $GITHUB_STEP_SUMMARY)."""

from __future__ import annotations

from collections.abc import Sequence

from .status import RolloutReport

_ICON = {"succeeded": "✅", "aborted": "⛔", "failed": "❌"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary_markdown(stack: str, reports: Sequence[RolloutReport]) -> str:
    lines = [f"## Rollout verdict: stack {stack}", ""]
    if not reports:
        return "\n".join([*lines, "No models are served by this stack: nothing to wait for.", ""])
    lines += ["| Model | Version | Image | Verdict | Duration | Ended at |", "|---|---|---|---|---|---|"]
    for r in reports:
        t = r.target
        lines.append(
            f"| {t.model} | {t.version} | `{_cell(t.image)}` | {_ICON[r.verdict]} {r.verdict} | {r.seconds:.0f}s "
            f"(limit {r.deadline_seconds}s) | {_cell(r.state.where)} |"
        )
    for r in reports:
        lines += ["", f"### {r.target.model}", "", f"**Decision:** {_cell(r.decision())}", "", "Canary steps:", ""]
        lines += [f"{i}. {step}" for i, step in enumerate(r.steps, 1)] or ["(none)"]
        if r.analyses:
            lines += ["", "| Analysis | Step | Phase | Metric | Metric phase | ok / failed / inconclusive / errors | Last value |"]
            lines.append("|---|---|---|---|---|---|---|")
            for a in r.analyses:
                for m in a.metrics:
                    lines.append(
                        f"| {a.run} | {a.step} | {a.phase} | {m.name} | {m.phase} | "
                        f"{m.successful} / {m.failed} / {m.inconclusive} / {m.errors} | {_cell(m.last_value)} |"
                    )
        if r.smoke is not None:
            lines += ["", f"**Smoke test:** {_cell(r.smoke.line())}"]
    return "\n".join([*lines, ""])
