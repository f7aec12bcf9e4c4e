"""The plan's cost estimate: every figure recomputed from the price catalog; budgets; default tags; budget components."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from catalogs.aws_cpu_instances import CPU_INSTANCES
from catalogs.aws_gpu_instances import GPU_INSTANCES
from catalogs.cloud_prices import (
    EC2_ON_DEMAND_HOURLY,
    EC2_SPOT_DISCOUNT,
    G2_MACHINE_HOURLY,
    GCE_SPOT_DISCOUNT,
    GPU_HOURLY,
    HOURS_PER_MONTH,
    PERSISTENT_DISK_GB_MONTH,
    PRICE_DATE,
    ec2_family,
    gce_machine_hourly,
)
from catalogs.gcp_machines import G2_L4_GPUS
from components.aws.budget import StackBudget, StackBudgetArgs, budget_notifications
from components.gcp.budget import ProjectBudget, ProjectBudgetArgs, threshold_rules
from infra.config import ConfigError
from infra.plan.cost import cloud_of, node_group_floor
from infra.plan.cost_report import budget_problems
from tests.harness import PROJECT_DIR, checked_in_plan, inputs, one, run

STACKS = ("staging", "production")
CONTRACT_KEYS = {"currency", "priceDate", "region", "estimate", "hoursPerMonth", "totals", "lines"}
LINE_KEYS = {"urn", "component", "item", "quantity", "unit", "unitPrice", "source", "date", "monthly"}


def _resources(stack: str, typ: str) -> list[dict[str, Any]]:
    return [r for r in checked_in_plan(stack).document["resources"] if r["type"] == typ]


def test_every_catalog_type_has_a_price_and_a_spot_discount() -> None:
    for instance_type in [*GPU_INSTANCES, *CPU_INSTANCES]:
        assert EC2_ON_DEMAND_HOURLY[instance_type] > 0, instance_type
        assert 0 < EC2_SPOT_DISCOUNT[ec2_family(instance_type)] < 1, instance_type
    for machine_type in G2_L4_GPUS:
        assert G2_MACHINE_HOURLY[machine_type] > 0
    assert gce_machine_hourly("n1-standard-8") == pytest.approx(8 * 0.031611 + 30 * 0.004237)


@pytest.mark.parametrize("stack", STACKS)
def test_cost_section_has_the_contract_shape(stack: str) -> None:
    cost = checked_in_plan(stack).document["cost"]
    assert set(cost) == CONTRACT_KEYS
    assert (cost["currency"], cost["priceDate"], cost["estimate"], cost["hoursPerMonth"]) == ("USD", PRICE_DATE, True, 730)
    assert cost["region"] == {"staging": "us-west-2", "production": "us-east-1"}[stack]
    for line in cost["lines"]:
        assert set(line) == LINE_KEYS
        assert line["source"].startswith("https://") and line["date"] == PRICE_DATE
        assert set(line["quantity"]) == set(line["monthly"]) == {"idle", "min", "max"}


@pytest.mark.parametrize("stack", STACKS)
def test_every_figure_is_quantity_times_the_catalog_price(stack: str) -> None:
    cost = checked_in_plan(stack).document["cost"]
    for line in cost["lines"]:
        for scale in ("idle", "min", "max"):
            assert line["monthly"][scale] == pytest.approx(line["quantity"][scale] * line["unitPrice"], abs=0.006), line["item"]
    for scale in ("idle", "min", "max"):
        assert cost["totals"][scale] == pytest.approx(sum(line["monthly"][scale] for line in cost["lines"]), abs=0.01)


def _lines(stack: str, urn_suffix: str) -> list[dict[str, Any]]:
    return [ln for ln in checked_in_plan(stack).document["cost"]["lines"] if ln["urn"].endswith(urn_suffix)]


def test_staging_gpu_group_spot_at_the_dearest_type_zero_when_idle_one_node_for_the_model() -> None:
    [instances, volumes] = _lines("staging", "aws:eks/nodeGroup:NodeGroup::nodes-gpu-l4") + _lines(
        "staging", "aws:ec2/launchTemplate:LaunchTemplate::nodes-gpu-l4"
    )
    # gpu-l4: minSize 0, maxSize 2; the model's one replica needs one node; g6.2xlarge is the dearer type.
    assert instances["quantity"] == {"idle": 0, "min": HOURS_PER_MONTH, "max": 2 * HOURS_PER_MONTH}
    assert instances["unitPrice"] == pytest.approx(EC2_ON_DEMAND_HOURLY["g6.2xlarge"] * (1 - EC2_SPOT_DISCOUNT["g6"]))
    assert "spot (estimate" in instances["item"]
    assert volumes["quantity"] == {"idle": 0, "min": 200, "max": 400} and volumes["unitPrice"] == 0.08


def test_production_figures_from_the_table() -> None:
    [gpu] = _lines("production", "aws:eks/nodeGroup:NodeGroup::nodes-gpu-l40s")
    assert gpu["monthly"]["max"] == pytest.approx(8 * HOURS_PER_MONTH * EC2_ON_DEMAND_HOURLY["g6e.2xlarge"], abs=0.01)
    assert len(_lines("production", "aws:ec2/natGateway:NatGateway::network-nat-us-east-1a")) == 1
    nat = [ln for ln in checked_in_plan("production").document["cost"]["lines"] if ln["item"].startswith("NAT gateway")]
    assert len(nat) == 3 and all(ln["unitPrice"] == 0.045 for ln in nat)
    group = _lines("production", "RegionInstanceGroupManager::gcp-gpu-group")
    by_item = {ln["item"]: ln for ln in group}
    assert by_item["g2-standard-24 on-demand VM-hours"]["quantity"]["max"] == 2 * HOURS_PER_MONTH
    assert by_item["g2-standard-24 on-demand VM-hours"]["unitPrice"] == G2_MACHINE_HOURLY["g2-standard-24"]
    assert by_item["2 x nvidia-l4 on-demand GPU-hours"]["quantity"]["max"] == 4 * HOURS_PER_MONTH
    assert by_item["model-cache disk (pd-ssd)"]["monthly"]["max"] == pytest.approx(2 * 500 * PERSISTENT_DISK_GB_MONTH["pd-ssd"])


def test_staging_spot_vm_and_its_gpu_at_the_assumed_discount() -> None:
    vm = {ln["item"]: ln for ln in _lines("staging", "gcp:compute/instance:Instance::gcp-gpu-ai-serving-stg-0")}
    discount = 1 - GCE_SPOT_DISCOUNT["g2"]
    assert vm["1 x nvidia-l4 spot (estimate: 50% off on-demand) GPU-hours"]["unitPrice"] == pytest.approx(
        GPU_HOURLY["nvidia-l4"] * discount
    )
    assert vm["boot disk (pd-balanced)"]["quantity"]["max"] == 150


def test_node_floor_rounds_up_to_whole_nodes() -> None:
    assert node_group_floor([("a", 3, 1), ("a", 1, 2), ("b", 1, 1)], {"a": 4, "b": 1}) == {"a": 2, "b": 1}


def test_lines_count_against_the_cloud_of_their_resource() -> None:
    clouds = {cloud_of(ln) for ln in checked_in_plan("production").document["cost"]["lines"]}
    assert clouds == {"aws", "gcp"}


def _with_budget(aws: float, gcp: float) -> Any:
    cfg = checked_in_plan("production").config
    assert cfg.cost is not None
    return cfg.model_copy(update={"cost": cfg.cost.model_copy(update={"aws_monthly_budget_usd": aws, "gcp_monthly_budget_usd": gcp})})


def test_checked_in_budgets_fit_the_plans() -> None:
    for stack in STACKS:
        plan = checked_in_plan(stack)
        assert budget_problems(plan.document["cost"], plan.config) == []


def test_too_low_budget_names_the_budget_and_the_top_three_contributors() -> None:
    cost = checked_in_plan("production").document["cost"]
    [problem] = budget_problems(cost, _with_budget(1000, 100_000))
    assert problem.path == "ai-serving:cost.awsMonthlyBudgetUsd" and problem.value == 1000
    top = sorted((ln for ln in cost["lines"] if cloud_of(ln) == "aws"), key=lambda ln: -ln["monthly"]["max"])[:3]
    assert [ln["item"] for ln in top][:2] == ["g6e.2xlarge on-demand instance-hours", "m7i.xlarge on-demand instance-hours"]
    assert "top contributors: nodes-gpu-l40s g6e.2xlarge on-demand instance-hours $13,093.75; nodes-system m7i.xlarge" in problem.allowed
    assert problem.allowed.count("$") == 4  # the total and three contributors


def test_a_plan_over_budget_exits_2_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import infra.plan.run as run_module
    from infra.cli import main

    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.production.yaml"):
        (project / name).write_text((PROJECT_DIR / name).read_text().replace("awsMonthlyBudgetUsd: 16000", "awsMonthlyBudgetUsd: 5000"))
    # The real config load, cost estimate and budget check; the program's evaluation is the checked-in plan's.
    monkeypatch.setattr(run_module, "evaluate", lambda *args, **kwargs: checked_in_plan("production").evaluation)
    monkeypatch.chdir(project)
    assert main(["plan", "--stack", "production", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[1].startswith("ai-serving:cost.awsMonthlyBudgetUsd: got 5000.0; the plan's maximum AWS cost is $")
    assert "top contributors: nodes-gpu-l40s g6e.2xlarge on-demand instance-hours $13,093.75;" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_config_rules_of_the_budget() -> None:
    with pytest.raises(ConfigError) as err:
        _load({"awsMonthlyBudgetUsd": 10, "alertThresholdsPercent": [100, 80]}, "staging")
    text = str(err.value)
    assert "ai-serving:cost.alertThresholdsPercent: got [100, 80]; list each percentage once, in ascending order" in text


def _load(cost: dict[str, Any], stack: str, default_tags: Any = None) -> Any:
    from infra.config import load_stack_config
    from tests.harness import stack_config

    raw = stack_config(stack) | {"cost": cost}
    region = {"staging": "us-west-2", "production": "us-east-1"}[stack]
    return load_stack_config(raw, region, None, stack, default_tags)


def test_gcp_budget_needs_billing_account_and_amount_and_alerts_need_a_recipient() -> None:
    with pytest.raises(ConfigError) as err:
        _load({"awsMonthlyBudgetUsd": 10}, "staging", {"tags": {"stack": "staging"}})
    lines = str(err.value).splitlines()
    assert "ai-serving:cost.alertEmails: got []; set alertEmails or alertSnsTopicArn: a budget alert needs a recipient" in lines
    assert any(line.startswith("ai-serving:cost.gcpMonthlyBudgetUsd: got None; required when gcp is enabled") for line in lines)
    assert any(line.startswith("ai-serving:cost.gcpBillingAccount: got None; required when gcp is enabled") for line in lines)


def test_budget_requires_the_stack_default_tag() -> None:
    cost = {
        "awsMonthlyBudgetUsd": 10,
        "gcpMonthlyBudgetUsd": 10,
        "gcpBillingAccount": "0A1B2C-3D4E5F-6A7B8C",
        "alertEmails": ["a@example.com"],
    }
    with pytest.raises(ConfigError) as err:
        _load(cost, "staging", {"tags": {"stack": "production", "aws:x": "y"}})
    assert str(err.value).splitlines() == [
        "aws:defaultTags.tags.aws:x: got 'y'; keys starting with 'aws:' are reserved by AWS",
        "aws:defaultTags.tags.stack: got 'production'; must be 'staging': the AWS budget counts the resources tagged stack=staging",
    ]
    with pytest.raises(ConfigError, match=r"^aws:defaultTags: got None; required with ai-serving:cost"):
        _load(cost, "staging", None)


def test_unpriced_regions_are_refused() -> None:
    from infra.config import load_stack_config
    from tests.harness import stack_config

    raw = stack_config("production")
    raw["network"] = {**raw["network"], "availabilityZones": ["eu-west-1a", "eu-west-1b"]}
    with pytest.raises(ConfigError, match=r"aws:region: got 'eu-west-1'; no prices for this region in catalogs/cloud_prices.py"):
        load_stack_config(raw, "eu-west-1", None, "production")


@pytest.mark.parametrize("stack", STACKS)
def test_plan_records_the_default_tags_the_provider_adds(stack: str) -> None:
    tags = checked_in_plan(stack).document["awsDefaultTags"]
    assert tags["stack"] == stack and tags["cost-center"] == "cc-4711"


def test_aws_budget_alerts_on_each_threshold_and_the_forecast() -> None:
    args = StackBudgetArgs("c-monthly", "production", 16000, (50, 100), emails=("a@example.com",))
    notifications = budget_notifications(args)
    assert [(n["notification_type"], n["threshold"]) for n in notifications] == [("ACTUAL", 50.0), ("ACTUAL", 100.0), ("FORECASTED", 100.0)]
    assert all(n["subscriber_email_addresses"] == ["a@example.com"] for n in notifications)
    with pytest.raises(ValueError, match="needs an e-mail address or an SNS topic"):
        budget_notifications(StackBudgetArgs("c", "s", 1, (100,)))

    def program() -> None:
        StackBudget("cost", args)

    budget = inputs(one(run(program), "aws:budgets/budget:Budget"))
    assert budget["limitAmount"] == "16000.00" and budget["timeUnit"] == "MONTHLY" and budget["name"] == "c-monthly"
    assert budget["costFilters"] == [{"name": "TagKeyValue", "values": ["user:stack$production"]}]


def test_gcp_budget_on_the_project_with_fractions_and_email_channels() -> None:
    assert threshold_rules((80, 100))[-1] == {"threshold_percent": 1.0, "spend_basis": "FORECASTED_SPEND"}
    args = ProjectBudgetArgs("0A1B2C-3D4E5F-6A7B8C", "p monthly", 3499.5, (80,), emails=("a@example.com",))

    def program() -> None:
        ProjectBudget("gcp-cost", args)

    evaluation = run(program)
    budget = inputs(one(evaluation, "gcp:billing/budget:Budget"))
    assert budget["amount"] == {"specifiedAmount": {"currencyCode": "USD", "units": "3500"}}
    assert budget["budgetFilter"]["projects"] == ["projects/123456789012"]
    assert [r["thresholdPercent"] for r in budget["thresholdRules"]] == [0.8, 1]
    channel = inputs(one(evaluation, "gcp:monitoring/notificationChannel:NotificationChannel"))
    assert channel["labels"] == {"email_address": "a@example.com"}


@pytest.mark.parametrize("stack", STACKS)
def test_stacks_declare_their_budgets_and_the_deploy_role_may_manage_only_that_one(stack: str) -> None:
    resources = checked_in_plan(stack).document["resources"]
    [budget] = [r for r in resources if r["type"] == "aws:budgets/budget:Budget"]
    assert budget["inputs"]["name"] == f"ai-serving-{stack}-monthly"
    assert len([r for r in resources if r["type"] == "gcp:billing/budget:Budget"]) == 1
    assert math.isclose(float(budget["inputs"]["limitAmount"]), {"staging": 2500, "production": 16000}[stack])
