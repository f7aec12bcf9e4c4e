"""What `ai-serving plan` does with the cost estimate: the budget check and the summary lines."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from infra.config import ConfigProblem, StackConfig
from infra.config.base import key_path

from .cost import SCALES, cloud_of, top_contributors


def budget_problems(cost: Mapping[str, Any], cfg: StackConfig) -> list[ConfigProblem]:
    """One problem per cloud whose estimated maximum monthly cost exceeds its budget, naming the top three lines."""
    if cfg.cost is None:
        return []
    problems = []
    for cloud, budget, key in (
        ("aws", cfg.cost.aws_monthly_budget_usd, "awsMonthlyBudgetUsd"),
        ("gcp", cfg.cost.gcp_monthly_budget_usd, "gcpMonthlyBudgetUsd"),
    ):
        lines = [ln for ln in cost["lines"] if cloud_of(ln) == cloud]
        estimate = round(sum(ln["monthly"]["max"] for ln in lines), 2)
        if budget is None or estimate <= budget:
            continue
        top = "; ".join(f"{_where(ln)} {ln['item']} ${ln['monthly']['max']:,.2f}" for ln in top_contributors(lines))
        problems.append(
            ConfigProblem(
                key_path("cost", key),
                budget,
                f"the plan's maximum {cloud.upper()} cost is ${estimate:,.2f}/month, over the budget; top contributors: {top}",
            )
        )
    return problems


def _where(cost_line: Mapping[str, Any]) -> str:
    return str(cost_line["urn"]).rsplit("::", 1)[-1]


def cost_summary_lines(cost: Mapping[str, Any], cfg: StackConfig) -> list[str]:
    by_component: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for ln in cost["lines"]:
        for i, scale in enumerate(SCALES):
            by_component[ln["component"]][i] += ln["monthly"][scale]
    lines = [
        f"Monthly cost estimate (USD, list prices as compiled {cost['priceDate']}, not live, {cost['hoursPerMonth']} h/month; "
        "spot at an assumed discount; traffic charges excluded):"
    ]
    lines.append(f"  {'idle':>10}  {'min':>10}  {'max':>10}  component")
    for component, (idle, low, high) in sorted(by_component.items(), key=lambda kv: -kv[1][2]):
        lines.append(f"  {idle:10,.2f}  {low:10,.2f}  {high:10,.2f}  {component}")
    totals = cost["totals"]
    lines.append(f"  {totals['idle']:10,.2f}  {totals['min']:10,.2f}  {totals['max']:10,.2f}  total")
    if cfg.cost is not None:
        budgets = [f"AWS ${cfg.cost.aws_monthly_budget_usd:,.0f}"]
        if cfg.cost.gcp_monthly_budget_usd is not None:
            budgets.append(f"GCP ${cfg.cost.gcp_monthly_budget_usd:,.0f}")
        lines.append(f"  budgets: {', '.join(budgets)} per month (the max of each cloud fits)")
    return lines
