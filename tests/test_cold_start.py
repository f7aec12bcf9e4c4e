"""The cold-start budget's arithmetic and what is derived from it."""

from __future__ import annotations

import math

import pytest

from components.k8s.vllm_cold_start import (
    ENGINE_WARMUP_SECONDS,
    GPU_NODE_BOOT_SECONDS,
    SAFETY_FACTOR,
    ColdStartBudget,
    cold_start_budget,
)
from infra.args.serving import stack_model
from infra.plan.summary import summary_lines
from tests.harness import checked_in_plan


def test_hub_weights_pay_download_and_disk_read_back() -> None:
    b = cold_start_budget(weights_gib=14.2, image_gib=10, weights_from="huggingface", image_from="ecr")
    # 14.2 GiB = 14540.8 MiB: 363.52 s at 40 MiB/s plus 116.33 s at 125 MiB/s; 10240 MiB at 120 MiB/s.
    assert (b.node_boot_seconds, b.image_pull_seconds, b.weight_load_seconds, b.engine_warmup_seconds) == (420, 86, 480, 180)
    assert b.total_seconds == 1166
    assert b.startup_window_seconds == math.ceil(1.5 * (480 + 180)) == 990
    assert b.progress_deadline_seconds == math.ceil(1.5 * 1166) == 1749


def test_streamed_s3_weights_and_upstream_images() -> None:
    s3 = cold_start_budget(weights_gib=14.2, image_gib=10, weights_from="s3-stream", image_from="upstream")
    assert s3.weight_load_seconds == math.ceil(14.2 * 1024 / 400) == 37
    assert s3.image_pull_seconds == 256
    assert s3.total_seconds == GPU_NODE_BOOT_SECONDS + 256 + 37 + ENGINE_WARMUP_SECONDS


@pytest.mark.parametrize(("weights", "image"), [(0, 10), (1, 0), (-1, 1)])
def test_sizes_must_be_positive(weights: float, image: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        cold_start_budget(weights_gib=weights, image_gib=image, weights_from="huggingface", image_from="ecr")


def test_windows_carry_the_headroom_over_their_phases() -> None:
    b = ColdStartBudget(node_boot_seconds=100, image_pull_seconds=10, weight_load_seconds=20, engine_warmup_seconds=30)
    assert b.startup_window_seconds == math.ceil(SAFETY_FACTOR * 50)
    assert b.progress_deadline_seconds == math.ceil(SAFETY_FACTOR * 160)
    assert "= 160s" in b.describe()


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_plan_probe_deadline_and_summary_follow_the_budget(stack: str) -> None:
    plan = checked_in_plan(stack)
    [model_cfg] = plan.config.models
    budget = stack_model(plan.config, model_cfg).cold_start
    [rollout] = [o for o in plan.objects if o["kind"] == "Rollout"]
    assert rollout["spec"]["progressDeadlineSeconds"] == budget.progress_deadline_seconds
    probe = rollout["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    assert probe["failureThreshold"] == math.ceil(budget.startup_window_seconds / probe["periodSeconds"])
    lines = summary_lines(stack, plan.config, plan.evaluation)
    assert any(f"progress deadline {budget.progress_deadline_seconds}s" in line for line in lines)
