"""Serving config: each rule of `models` / `serving` rejects a bad value with a line naming key, value and what is allowed."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from infra.config import ConfigError, load_stack_config
from tests.harness import stack_config

Raw = dict[str, Any]


def _problems(raw: Raw, region: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_stack_config(raw, region)
    return [str(p) for p in err.value.problems]


@pytest.fixture
def staging() -> Raw:
    return copy.deepcopy(stack_config("staging"))


@pytest.fixture
def production() -> Raw:
    return copy.deepcopy(stack_config("production"))


def _staging_line(raw: Raw, edit: Callable[[dict[str, Any]], None], expected: str) -> str:
    edit(raw["models"][0])
    lines = [line for line in _problems(raw, "us-west-2") if expected in line]
    assert lines, f"no problem mentions {expected!r}"
    return lines[0]


def test_checked_in_stacks_serve_a_model_each() -> None:
    staging = load_stack_config(stack_config("staging"), "us-west-2")
    production = load_stack_config(stack_config("production"), "us-east-1")
    [small] = staging.models
    [large] = production.models
    assert small.replicas.min == 1 and small.gpus_per_replica == 1 and small.image.digest is None
    assert large.replicas.min >= 2 and large.image.digest is not None
    assert large.canary.steps is None  # the default canary: an analysis after every weight (test_vllm_objects)
    groups = {g.name: g for g in production.gpu_node_groups}
    assert groups[large.node_group].capacity_type == "ON_DEMAND"


@pytest.mark.parametrize(
    ("edit", "path", "expected"),
    [
        (lambda m: m["image"].update(tag="latest"), "models[0].image.tag", "'latest' changes under a running Rollout"),
        (lambda m: m["image"].update(tag="v0.18.0:x"), "models[0].image.tag", "string should match pattern"),
        (lambda m: m["image"].update(digest="sha256:abc"), "models[0].image.digest", "string should match pattern"),
        (lambda m: m.update(source="not a model"), "models[0].source", "Hugging Face id 'org/model' or an S3 prefix"),
        (lambda m: m.update(source="s3://bucket-only"), "models[0].source", "Hugging Face id 'org/model' or an S3 prefix"),
        (lambda m: m.update(source="s3://weights-bucket/*"), "models[0].source", "Hugging Face id 'org/model' or an S3 prefix"),
        (
            lambda m: m.update(source="s3://weights-bucket/qwen/", revision="main"),
            "models[0]",
            "revision applies to Hugging Face sources only",
        ),
        (lambda m: m["vllm"].update(tensorParallelSize=2), "models[0]", "vllm.tensorParallelSize (2) must equal gpusPerReplica (1)"),
        (lambda m: m.update(replicas={"min": 2, "max": 1}), "models[0].replicas", "must satisfy min <= max"),
        (lambda m: m.update(replicas={"min": 0, "max": 1}), "models[0].replicas.min", "greater than or equal to 1"),
        (lambda m: m["resources"].update(shmSizeGib=12), "models[0].resources", "shmSizeGib (12) is part of memoryGib (12)"),
        (lambda m: m["vllm"].update(gpuMemoryUtilization=0.99), "models[0].vllm.gpuMemoryUtilization", "less than or equal to 0.98"),
        (
            lambda m: m["vllm"].update(extraArgs=["--kv-cache-dtype", "fp8"]),
            "models[0].vllm.extraArgs",
            "one '--flag' or '--flag=value' item",
        ),
        (lambda m: m["vllm"].update(extraArgs=["--max-num-seqs=8"]), "models[0].vllm.extraArgs", "set from the typed settings"),
        (lambda m: m["vllm"].update(extraArgs=["--api-key=x"]), "models[0].vllm.extraArgs", "--api-key is not allowed"),
        (lambda m: m["vllm"].update(extraArgs=["--hf-token=hf_x"]), "models[0].vllm.extraArgs", "--hf-token is not allowed"),
        (lambda m: m["vllm"].update(extraArgs=["--trust-remote-code"]), "models[0].vllm.extraArgs", "--trust-remote-code is not allowed"),
        (lambda m: m["vllm"].update(extraArgs=["--seed=1", "--seed=2"]), "models[0].vllm.extraArgs", "each flag may appear once"),
        (lambda m: m.update(canary={"steps": [{"setWeight": 50}, {"setWeight": 25}]}), "models[0].canary.steps", "strictly increasing"),
        (lambda m: m.update(canary={"steps": [{"setWeight": 50}, {"setWeight": 50}]}), "models[0].canary.steps", "strictly increasing"),
        (lambda m: m.update(canary={"steps": [{"setWeight": 120}]}), "models[0].canary.steps[0].setWeight", "less than or equal to 100"),
        (lambda m: m.update(canary={"steps": [{"setWeight": 20, "pause": 60}]}), "models[0].canary.steps[0]", "exactly one of setWeight"),
        (lambda m: m.update(canary={"steps": [{"analysis": True}]}), "models[0].canary.steps", "at least one setWeight step"),
        (lambda m: m.update(canary={"analysis": {"maxErrorRatio": 0}}), "models[0].canary.analysis.maxErrorRatio", "greater than 0"),
        (
            lambda m: m.update(canary={"analysis": {"maxErrorRatio": 0.6}}),
            "models[0].canary.analysis.maxErrorRatio",
            "less than or equal to 0.5",
        ),
        (
            lambda m: m.update(canary={"analysis": {"maxP95TtftSeconds": 0}}),
            "models[0].canary.analysis.maxP95TtftSeconds",
            "greater than 0",
        ),
        (
            lambda m: m.update(canary={"analysis": {"intervalSeconds": 10}}),
            "models[0].canary.analysis.intervalSeconds",
            "greater than or equal to 60",
        ),
        (
            lambda m: m.update(canary={"analysis": {"count": 3, "failureLimit": 3}}),
            "models[0].canary.analysis",
            "failureLimit (3) must be below count",
        ),
        (
            lambda m: m.update(autoscaling={"scaleDownStabilizationSeconds": 300}),
            "models[0].autoscaling.scaleDownStabilizationSeconds",
            "600",
        ),
        (lambda m: m.update(autoscaling={"scaleUpPeriodSeconds": 15}), "models[0].autoscaling.scaleUpPeriodSeconds", "60"),
        (lambda m: m.update(name="Qwen_Small"), "models[0].name", "string should match pattern"),
        (lambda m: m.update(version="v1/../x"), "models[0].version", "string should match pattern"),
    ],
)
def test_model_rule_rejects_bad_value(staging: Raw, edit: Callable[[dict[str, Any]], None], path: str, expected: str) -> None:
    line = _staging_line(staging, edit, expected)
    assert line.startswith(f"ai-serving:{path}: got "), line


def test_node_group_must_exist(staging: Raw) -> None:
    line = _staging_line(staging, lambda m: m.update(nodeGroup="gpu-h100"), "must name one of gpuNodeGroups")
    assert line == "ai-serving:models[0].nodeGroup: got 'gpu-h100'; must name one of gpuNodeGroups: gpu-l4"


def test_gpus_per_replica_must_fit_one_node(staging: Raw) -> None:
    def edit(m: dict[str, Any]) -> None:
        m.update(gpusPerReplica=2)
        m["vllm"].update(tensorParallelSize=2)

    line = _staging_line(staging, edit, "must fit one node of gpu-l4")
    assert line.startswith("ai-serving:models[0].gpusPerReplica: got 2;") and "g6.xlarge has 1 GPU(s)" in line


def test_node_group_must_hold_max_replicas_plus_canary(staging: Raw) -> None:
    line = _staging_line(staging, lambda m: m.update(replicas={"min": 1, "max": 2}), "need up to 3 GPUs")
    assert line.startswith("ai-serving:gpuNodeGroups[0].scaling.maxSize: got 2;")
    assert "2 nodes x 1 GPUs = 2" in line


def test_model_names_are_unique(staging: Raw) -> None:
    staging["models"].append(copy.deepcopy(staging["models"][0]))
    assert "ai-serving:models[1].name: got 'qwen-small'; model names must be unique" in _problems(staging, "us-west-2")


def test_models_need_the_serving_section(staging: Raw) -> None:
    del staging["serving"]
    assert "ai-serving:serving: got None; required when models are listed (the add-ons the models rely on)" in _problems(
        staging, "us-west-2"
    )


def test_serving_namespace_may_not_be_a_reserved_one(staging: Raw) -> None:
    staging["serving"]["namespace"] = "kube-system"
    assert any(
        line.startswith("ai-serving:serving.namespace: got 'kube-system'; 'kube-system' is reserved")
        for line in _problems(staging, "us-west-2")
    )


@pytest.mark.parametrize(("key", "needed_for"), [("huggingFaceToken", "Hugging Face"), ("alertmanagerDiscordWebhook", "Discord webhook")])
def test_missing_secret_is_reported_with_the_command_to_set_it(staging: Raw, key: str, needed_for: str) -> None:
    del staging[key]
    [line] = [p for p in _problems(staging, "us-west-2") if p.startswith(f"ai-serving:{key}:")]
    assert f"pulumi config set --secret ai-serving:{key}" in line and needed_for in line


def test_hf_token_not_needed_for_s3_weights(staging: Raw) -> None:
    del staging["huggingFaceToken"]
    staging["models"][0]["source"] = "s3://weights-bucket/qwen/2.5-1.5b/"
    try:
        load_stack_config(staging, "us-west-2")
        problems: list[str] = []
    except ConfigError as err:  # the model gate may object to the changed source; the token rule must not
        problems = [str(p) for p in err.problems]
    assert not [p for p in problems if "huggingFaceToken" in p]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda m: m["image"].pop("digest"), "ai-serving:models[0].image.digest: got None; production pins the image by digest"),
        (
            lambda m: m.update(replicas={"min": 1, "max": 6}),
            "ai-serving:models[0].replicas.min: got 1; production serves from at least 2 replicas",
        ),
        (
            lambda m: m.update(canary={"steps": [{"setWeight": 50}, {"pause": 600}]}),
            "ai-serving:models[0].canary.steps: got 'no analysis step'; production canaries need at least one analysis step",
        ),
    ],
)
def test_production_policy(production: Raw, edit: Callable[[dict[str, Any]], None], expected: str) -> None:
    edit(production["models"][0])
    assert any(line.startswith(expected) for line in _problems(production, "us-east-1"))


def test_production_refuses_spot_gpus(production: Raw) -> None:
    production["gpuNodeGroups"][0]["capacityType"] = "SPOT"
    assert any(
        line.startswith("ai-serving:models[0].nodeGroup: got 'gpu-l40s'; production models run on an ON_DEMAND GPU node group")
        for line in _problems(production, "us-east-1")
    )


def test_staging_may_pin_by_tag_only(staging: Raw) -> None:
    assert "digest" not in staging["models"][0]["image"]
    load_stack_config(staging, "us-west-2")


def test_s3_model_name_must_leave_room_for_its_iam_role_name(production: Raw) -> None:
    model = production["models"][0]
    model["source"] = "s3://example-weights/qwen/"
    model.pop("revision", None)
    model["name"] = "qwen-7b-instruct-long-name"  # 26 characters
    with pytest.raises(ConfigError) as err:
        load_stack_config(production, "us-east-1", stack="production")
    assert [str(p) for p in err.value.problems if "IAM role" in str(p)] == [
        "ai-serving:models[0].name: got 'qwen-7b-instruct-long-name'; at most 21 characters in stack production for a model "
        "read from S3: its IAM role name would be 69 > 64 characters"
    ]
    # The same name from Hugging Face creates no role, and a short S3 name fits.
    model["name"] = "qwen-7b-s3"
    problems = []
    try:
        load_stack_config(production, "us-east-1", stack="production")
    except ConfigError as e:
        problems = [str(p) for p in e.problems]
    assert not any("IAM role" in p for p in problems)


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        (
            {"cpu": 4},
            "ai-serving:models[0].resources.cpu: got 4.0; must fit one node: on gpu-l4 the smallest type g6.xlarge leaves 3.25 vCPUs for pods",
        ),
        (
            {"memoryGib": 15},
            "ai-serving:models[0].resources.memoryGib: got 15; must fit one node: on gpu-l4 the smallest type g6.xlarge leaves 14.4 GiB for pods",
        ),
        (
            {"ephemeralStorageGib": 190},
            "ai-serving:models[0].resources.ephemeralStorageGib: got 190; must fit the node disk: gpu-l4 has 200 GiB, 40 of it kept for images, so at most 160",
        ),
    ],
)
def test_a_pod_must_fit_the_smallest_node_of_its_group(staging: Raw, resources: dict[str, Any], expected: str) -> None:
    staging["models"][0]["resources"] |= resources
    assert expected in _problems(staging, "us-west-2")


def test_the_checked_in_models_fit_their_nodes() -> None:
    from catalogs.aws_gpu_instances import GPU_INSTANCES, allocatable

    for stack, region in (("staging", "us-west-2"), ("production", "us-east-1")):
        cfg = load_stack_config(stack_config(stack), region)
        groups = {g.name: g for g in cfg.gpu_node_groups}
        for model in cfg.models:
            cpu, memory = min(allocatable(GPU_INSTANCES[t]) for t in groups[model.node_group].instance_types)
            assert model.resources.cpu <= cpu and model.resources.memory_gib <= memory
