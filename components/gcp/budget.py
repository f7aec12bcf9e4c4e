"""The stack's Cloud Billing budget: monthly cost of the stack's GCP project, with threshold alerts.

Alerts go to the billing account's administrators and users (Cloud Billing's default recipients) and to one
Cloud Monitoring e-mail channel per configured address. Creating a budget needs billing.budgets.create on the
billing account (roles/billing.costsManager), granted there by a billing administrator (docs/cost.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp


@dataclass(frozen=True)
class ProjectBudgetArgs:
    billing_account: str
    display_name: str
    monthly_usd: float
    thresholds_percent: tuple[int, ...]
    emails: tuple[str, ...] = ()


def threshold_rules(thresholds_percent: tuple[int, ...]) -> list[dict[str, Any]]:
    """Actual spend at each percentage, and forecast spend at 100 % (Cloud Billing takes fractions: 1.0 = 100 %)."""
    actual = [{"threshold_percent": p / 100, "spend_basis": "CURRENT_SPEND"} for p in thresholds_percent]
    return [*actual, {"threshold_percent": 1.0, "spend_basis": "FORECASTED_SPEND"}]


def whole_usd(amount: float) -> str:
    # The budget amount is Money{units, nanos}; whole dollars rounded up keep the budget at least the configured one.
    return str(int(-(-amount // 1)))


class ProjectBudget(pulumi.ComponentResource):
    budget: gcp.billing.Budget

    def __init__(self, name: str, args: ProjectBudgetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:gcp:ProjectBudget", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        channels = [
            gcp.monitoring.NotificationChannel(
                f"{name}-email-{i}",
                display_name=f"{args.display_name} budget alerts",
                type="email",
                labels={"email_address": email},
                opts=child,
            )
            for i, email in enumerate(args.emails)
        ]
        project = gcp.organizations.get_project_output(opts=pulumi.InvokeOutputOptions(parent=self))
        self.budget = gcp.billing.Budget(
            f"{name}-budget",
            billing_account=args.billing_account,
            display_name=args.display_name,
            amount=gcp.billing.BudgetAmountArgs(
                specified_amount=gcp.billing.BudgetAmountSpecifiedAmountArgs(currency_code="USD", units=whole_usd(args.monthly_usd))
            ),
            budget_filter=gcp.billing.BudgetBudgetFilterArgs(
                projects=[project.number.apply(lambda n: f"projects/{n}")], credit_types_treatment="INCLUDE_ALL_CREDITS"
            ),
            threshold_rules=[gcp.billing.BudgetThresholdRuleArgs(**rule) for rule in threshold_rules(args.thresholds_percent)],
            all_updates_rule=gcp.billing.BudgetAllUpdatesRuleArgs(
                monitoring_notification_channels=[c.id for c in channels], disable_default_iam_recipients=False
            ),
            opts=child,
        )
        self.register_outputs({"budgetName": self.budget.name})
