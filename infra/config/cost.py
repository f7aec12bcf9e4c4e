"""Config section `ai-serving:cost`: the stack's monthly budgets and who hears when spend approaches them.

`ai-serving plan` fails when the estimated maximum monthly cost of a cloud exceeds its budget (infra/plan/cost.py);
the same figures become an AWS Budgets budget and, with GCP enabled, a Cloud Billing budget that watch real spend.
Also here: the rule that both clouds' regions have prices in catalogs/cloud_prices.py, so every plan has its cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, field_validator

from catalogs.cloud_prices import AWS_REGION_MULTIPLIERS, GCP_REGION_MULTIPLIERS

from .base import ConfigProblem, StrictModel, key_path

# The tag the AWS budget filters on (components/aws/budget.py STACK_TAG; config may not import components).
STACK_TAG = "stack"
# Where a caller does not know the provider's config at all (as opposed to None: known to be unset).
NOT_GIVEN: Any = object()

if TYPE_CHECKING:
    from . import Environment, StackConfig

Usd = Annotated[float, Field(gt=0, le=100_000_000)]
Email = Annotated[str, Field(pattern=r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$", max_length=254)]
SnsTopicArn = Annotated[str, Field(pattern=r"^arn:aws:sns:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}$")]
# Cloud Billing account ids: three groups of six hex digits (gcloud billing accounts list).
BillingAccount = Annotated[str, Field(pattern=r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$")]
# AWS Budgets: at most 5 notifications per budget, 10 e-mail subscribers each. Cloud Billing: 5 channels.
MAX_THRESHOLDS = 5
MAX_EMAILS = 5


class CostConfig(StrictModel):
    # Monthly USD budget of the stack's AWS resources: the plan's maximum must fit; AWS Budgets watches real spend.
    aws_monthly_budget_usd: Usd
    # The same for the GCP GPU VMs (required when gcp is enabled; ignored while it is disabled).
    gcp_monthly_budget_usd: Usd | None = None
    # Alert when actual spend reaches these percentages of a budget (and when forecast spend reaches 100 %).
    alert_thresholds_percent: Annotated[list[Annotated[int, Field(ge=1, le=1000)]], Field(min_length=1, max_length=MAX_THRESHOLDS - 1)] = [
        80,
        100,
    ]
    alert_emails: Annotated[list[Email], Field(max_length=MAX_EMAILS)] = []
    alert_sns_topic_arn: SnsTopicArn | None = None
    # The Cloud Billing account the GCP budget lives on (required when gcp is enabled).
    gcp_billing_account: BillingAccount | None = None

    @field_validator("alert_thresholds_percent")
    @classmethod
    def _ascending_unique(cls, v: list[int]) -> list[int]:
        if v != sorted(set(v)):
            raise ValueError("list each percentage once, in ascending order")
        return v


def cost_problems(cfg: StackConfig, env: Environment) -> list[ConfigProblem]:
    """Priced regions (always: every plan carries its cost) and the budget's cross-key rules."""
    problems: list[ConfigProblem] = []
    if env.region is not None and env.region not in AWS_REGION_MULTIPLIERS:
        problems.append(
            ConfigProblem(
                "aws:region",
                env.region,
                f"no prices for this region in catalogs/cloud_prices.py (priced: {', '.join(AWS_REGION_MULTIPLIERS)}); add its prices with their source",
            )
        )
    gcp_enabled = cfg.gcp is not None and cfg.gcp.enabled
    if cfg.gcp is not None and gcp_enabled and cfg.gcp.region not in GCP_REGION_MULTIPLIERS:
        problems.append(
            ConfigProblem(
                key_path("gcp", "region"),
                cfg.gcp.region,
                f"no prices for this region in catalogs/cloud_prices.py (priced: {', '.join(GCP_REGION_MULTIPLIERS)}); add its prices with their source",
            )
        )
    cost = cfg.cost
    if env.aws_default_tags is not NOT_GIVEN:
        problems += default_tag_problems(env.aws_default_tags, env.stack, required=cost is not None)
    if cost is None:
        return problems
    if not cost.alert_emails and cost.alert_sns_topic_arn is None:
        problems.append(
            ConfigProblem(key_path("cost", "alertEmails"), [], "set alertEmails or alertSnsTopicArn: a budget alert needs a recipient")
        )
    for key, value in (("gcpMonthlyBudgetUsd", cost.gcp_monthly_budget_usd), ("gcpBillingAccount", cost.gcp_billing_account)):
        if gcp_enabled and value is None:
            problems.append(ConfigProblem(key_path("cost", key), None, "required when gcp is enabled (the GCP budget needs it)"))
    return problems


def default_tag_problems(default_tags: Any, stack: str | None, *, required: bool) -> list[ConfigProblem]:
    """`aws:defaultTags` (the AWS provider's own key: {tags: {KEY: VALUE}}) tags every AWS resource for cost
    allocation; the budget counts the resources whose `stack` tag is the stack's name."""
    if default_tags is None:
        if not required:
            return []
        return [
            ConfigProblem(
                "aws:defaultTags", None, f"required with ai-serving:cost: set aws:defaultTags: {{tags: {{stack: {stack or '<stack>'}}}}}"
            )
        ]
    tags = default_tags.get("tags") if isinstance(default_tags, dict) and set(default_tags) <= {"tags"} else None
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        return [ConfigProblem("aws:defaultTags", default_tags, "must be {tags: {KEY: VALUE, ...}} with string keys and values")]
    problems = [
        ConfigProblem(f"aws:defaultTags.tags.{k}", v, "keys starting with 'aws:' are reserved by AWS")
        for k, v in tags.items()
        if k.lower().startswith("aws:")
    ]
    if required and stack is not None and tags.get(STACK_TAG) != stack:
        problems.append(
            ConfigProblem(
                f"aws:defaultTags.tags.{STACK_TAG}",
                tags.get(STACK_TAG),
                f"must be {stack!r}: the AWS budget counts the resources tagged {STACK_TAG}={stack}",
            )
        )
    return problems


__all__ = ["NOT_GIVEN", "CostConfig", "cost_problems", "default_tag_problems"]
