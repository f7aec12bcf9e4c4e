"""Config -> Args of the stack's budgets (components/aws/budget.py, components/gcp/budget.py)."""

from __future__ import annotations

from components.aws.budget import StackBudgetArgs
from components.gcp.budget import ProjectBudgetArgs
from infra.config import StackConfig


def aws_budget_name(cfg: StackConfig) -> str | None:
    """The budget's name (unique per account: the cluster name is the stack's); None without a budget."""
    return f"{cfg.cluster.name}-monthly" if cfg.cost is not None else None


def aws_budget_args(cfg: StackConfig, stack: str) -> StackBudgetArgs | None:
    cost, name = cfg.cost, aws_budget_name(cfg)
    if cost is None or name is None:
        return None
    return StackBudgetArgs(
        budget_name=name,
        stack=stack,
        monthly_usd=cost.aws_monthly_budget_usd,
        thresholds_percent=tuple(cost.alert_thresholds_percent),
        emails=tuple(cost.alert_emails),
        sns_topic_arn=cost.alert_sns_topic_arn,
    )


def gcp_budget_args(cfg: StackConfig) -> ProjectBudgetArgs | None:
    cost, gcp = cfg.cost, cfg.gcp
    if cost is None or gcp is None or not gcp.enabled or cost.gcp_billing_account is None or cost.gcp_monthly_budget_usd is None:
        return None
    return ProjectBudgetArgs(
        billing_account=cost.gcp_billing_account,
        display_name=f"{gcp.name_prefix} monthly",
        monthly_usd=cost.gcp_monthly_budget_usd,
        thresholds_percent=tuple(cost.alert_thresholds_percent),
        emails=tuple(cost.alert_emails),
    )
