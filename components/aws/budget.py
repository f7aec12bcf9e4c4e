"""The stack's AWS Budgets budget: monthly cost of the resources tagged with the stack, with e-mail/SNS alerts.

The budget filters on the user-defined cost allocation tag `stack` (every AWS resource of the stack carries it
through the provider's default tags, `aws:defaultTags` in Pulumi.<stack>.yaml). AWS Budgets only sees a tag once
it is activated as a cost allocation tag in the payer account's Billing console (docs/cost.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

# The cost allocation tag that names the stack (set through the provider's default tags).
STACK_TAG = "stack"


@dataclass(frozen=True)
class StackBudgetArgs:
    # Unique in the account: the deploy role may change only this budget (ci_deploy_policy.py).
    budget_name: str
    stack: str
    monthly_usd: float
    # Percentages of the budget; actual spend crossing each one alerts, and so does forecast spend crossing 100 %.
    thresholds_percent: tuple[int, ...]
    emails: tuple[str, ...] = ()
    sns_topic_arn: str | None = None


def budget_cost_filters(stack: str) -> list[dict[str, Any]]:
    """Cost of this stack's resources only (Budgets writes user tags as user:<key>$<value>)."""
    return [{"name": "TagKeyValue", "values": [f"user:{STACK_TAG}${stack}"]}]


def budget_notifications(args: StackBudgetArgs) -> list[dict[str, Any]]:
    if not args.emails and args.sns_topic_arn is None:
        raise ValueError("a budget alert needs an e-mail address or an SNS topic")
    recipients: dict[str, Any] = {}
    if args.emails:
        recipients["subscriber_email_addresses"] = list(args.emails)
    if args.sns_topic_arn is not None:
        recipients["subscriber_sns_topic_arns"] = [args.sns_topic_arn]
    actual = [
        {"comparison_operator": "GREATER_THAN", "notification_type": "ACTUAL", "threshold": float(p), "threshold_type": "PERCENTAGE"}
        for p in args.thresholds_percent
    ]
    forecast = {
        "comparison_operator": "GREATER_THAN",
        "notification_type": "FORECASTED",
        "threshold": 100.0,
        "threshold_type": "PERCENTAGE",
    }
    return [n | recipients for n in [*actual, forecast]]


class StackBudget(pulumi.ComponentResource):
    budget: aws.budgets.Budget

    def __init__(self, name: str, args: StackBudgetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:aws:StackBudget", name, None, opts)
        self.budget = aws.budgets.Budget(
            f"{name}-budget",
            name=args.budget_name,
            budget_type="COST",
            limit_amount=f"{args.monthly_usd:.2f}",
            limit_unit="USD",
            time_unit="MONTHLY",
            cost_filters=[aws.budgets.BudgetCostFilterArgs(**f) for f in budget_cost_filters(args.stack)],
            notifications=[aws.budgets.BudgetNotificationArgs(**n) for n in budget_notifications(args)],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"budgetName": self.budget.name})
