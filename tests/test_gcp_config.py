import copy
from typing import Any

import pytest

from catalogs.gcp_machines import G2_L4_GPUS, shape_problem
from infra.config import ConfigError, StackConfig, load_stack_config
from tests.harness import stack_config

DIGEST = "sha256:" + "ab" * 32
REGION = {"staging": "us-west-2", "production": "us-east-1"}


def _raw(stack: str = "staging") -> dict[str, Any]:
    raw = copy.deepcopy(stack_config(stack))
    raw["gcpAppEnv"] = {"secure": "v1:c3RhbmQtaW4="}
    return raw


def _load(raw: dict[str, Any], stack: str = "staging") -> StackConfig:
    return load_stack_config(raw, REGION[stack])


def _problems(raw: dict[str, Any], stack: str = "staging") -> dict[str, str]:
    with pytest.raises(ConfigError) as err:
        _load(raw, stack)
    return {p.path: p.allowed for p in err.value.problems}


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_checked_in_stacks_enable_gcp(stack: str) -> None:
    cfg = _load(_raw(stack), stack)
    assert cfg.gcp is not None and cfg.gcp.enabled


def test_staging_is_one_spot_vm_and_production_an_on_demand_group_of_two() -> None:
    staging = _load(_raw("staging")).gcp
    production = _load(_raw("production"), "production").gcp
    assert staging is not None and production is not None
    assert (staging.vm.provisioning_model, staging.vm.count, staging.managed_instance_group.enabled) == ("SPOT", 1, False)
    assert (production.vm.provisioning_model, production.vm.count, production.managed_instance_group.enabled) == ("STANDARD", 2, True)


def test_defaults_are_one_l4_on_g2_standard_8() -> None:
    raw = _raw()
    raw["gcp"] = {
        "namePrefix": "ai-serving-x",
        "region": "us-central1",
        "zones": ["us-central1-a"],
        "app": {"image": f"us-docker.pkg.dev/proj-1234/r/img@{DIGEST}"},
    }
    gcp = _load(raw).gcp
    assert gcp is not None
    assert (gcp.vm.machine_type, gcp.vm.accelerator.type, gcp.vm.accelerator.count) == ("g2-standard-8", "nvidia-l4", 1)
    assert gcp.app.port == 8000 and gcp.vm.provisioning_model == "STANDARD" and gcp.vm.data_disk is None


@pytest.mark.parametrize(("machine", "gpus"), sorted(G2_L4_GPUS.items()))
def test_every_g2_machine_takes_exactly_its_l4_count(machine: str, gpus: int) -> None:
    assert shape_problem(machine, "nvidia-l4", gpus) is None
    assert shape_problem(machine, "nvidia-l4", gpus + 1) is not None


def test_g2_counts_match_the_compute_engine_table() -> None:
    assert G2_L4_GPUS == {
        "g2-standard-4": 1,
        "g2-standard-8": 1,
        "g2-standard-12": 1,
        "g2-standard-16": 1,
        "g2-standard-24": 2,
        "g2-standard-32": 1,
        "g2-standard-48": 4,
        "g2-standard-96": 8,
    }


@pytest.mark.parametrize(("machine", "count"), [("n1-standard-4", 1), ("n1-standard-16", 2), ("n1-highmem-96", 4), ("n1-highcpu-32", 1)])
def test_n1_with_t4_is_accepted(machine: str, count: int) -> None:
    assert shape_problem(machine, "nvidia-tesla-t4", count) is None


@pytest.mark.parametrize(
    ("machine", "accelerator", "key", "message"),
    [
        ("g2-standard-24", {"type": "nvidia-l4", "count": 1}, "accelerator.count", "exactly 2 nvidia-l4"),
        ("g2-standard-96", {"type": "nvidia-l4", "count": 4}, "accelerator.count", "exactly 8 nvidia-l4"),
        ("g2-standard-8", {"type": "nvidia-tesla-t4", "count": 1}, "accelerator.type", "carries nvidia-l4"),
        ("n1-standard-8", {"type": "nvidia-l4", "count": 1}, "accelerator.type", "nvidia-tesla-t4"),
        ("n1-standard-8", {"type": "nvidia-tesla-t4", "count": 3}, "accelerator.count", "1, 2 or 4"),
        ("n1-standard-64", {"type": "nvidia-tesla-t4", "count": 2}, "machineType", "at most 48 vCPUs"),
        ("n1-standard-7", {"type": "nvidia-tesla-t4", "count": 1}, "machineType", "not an N1 machine type"),
        ("a2-highgpu-1g", {"type": "nvidia-l4", "count": 1}, "machineType", "unsupported GPU machine type"),
    ],
)
def test_accelerator_must_match_the_machine(machine: str, accelerator: dict[str, Any], key: str, message: str) -> None:
    raw = _raw()
    raw["gcp"]["vm"] |= {"machineType": machine, "accelerator": accelerator}
    problems = _problems(raw)
    assert message in problems[f"ai-serving:gcp.vm.{key}"]


def test_zone_must_be_in_the_region() -> None:
    raw = _raw()
    raw["gcp"]["zones"] = ["us-central1-a", "europe-west4-b"]
    assert "must be a zone of region us-central1" in _problems(raw)["ai-serving:gcp.zones[1]"]


def test_missing_app_env_secret_fails_with_the_command_to_set_it() -> None:
    raw = _raw()
    del raw["gcpAppEnv"]
    assert "pulumi config set --secret gcpAppEnv" in _problems(raw)["ai-serving:gcpAppEnv"]


def test_disabled_section_needs_no_secret_and_skips_the_rules() -> None:
    raw = _raw()
    del raw["gcpAppEnv"]
    raw["gcp"] |= {"enabled": False, "zones": ["europe-west4-a"]}
    cfg = _load(raw)
    assert cfg.gcp is not None and not cfg.gcp.enabled


def test_absent_section_means_no_gcp() -> None:
    raw = _raw()
    del raw["gcp"], raw["gcpAppEnv"]
    assert _load(raw).gcp is None


def test_production_pins_the_image_by_digest() -> None:
    raw = _raw("production")
    raw["gcp"]["app"]["image"] = "us-central1-docker.pkg.dev/example-ai-serving-shared/serving/vllm-server:v1"
    assert "pin the image by digest" in _problems(raw, "production")["ai-serving:gcp.app.image"]


def test_image_must_come_from_artifact_registry_with_a_tag_or_digest() -> None:
    for image in ("vllm/vllm-openai:v0.18.0", "us-central1-docker.pkg.dev/proj-1234/repo/img"):
        raw = _raw()
        raw["gcp"]["app"]["image"] = image
        assert "Artifact Registry Docker image" in _problems(raw)["ai-serving:gcp.app.image"]


def test_regional_rolling_update_respects_the_zone_count() -> None:
    raw = _raw("production")
    raw["gcp"]["managedInstanceGroup"] |= {"maxSurge": 1, "maxUnavailable": 0}
    assert "at least the number of zones (2)" in _problems(raw, "production")["ai-serving:gcp.managedInstanceGroup.maxSurge"]
    raw["gcp"]["managedInstanceGroup"] |= {"maxSurge": 0, "maxUnavailable": 0}
    assert "cannot both be 0" in _problems(raw, "production")["ai-serving:gcp.managedInstanceGroup.maxSurge"]


@pytest.mark.parametrize(
    ("patch", "path", "message"),
    [
        ({"zones": ["us-central1-a", "us-central1-a"]}, "ai-serving:gcp.zones", "each zone once"),
        ({"namePrefix": "gcp-serving"}, "ai-serving:gcp.namePrefix", "must not start with 'gcp-'"),
        ({"namePrefix": "ai-serving-"}, "ai-serving:gcp.namePrefix", "pattern"),
        ({"namePrefix": "Ai-serving"}, "ai-serving:gcp.namePrefix", "pattern"),
        ({"namePrefix": "ai"}, "ai-serving:gcp.namePrefix", "at least 4 characters"),
        ({"namePrefix": "a-name-prefix-that-is-too-long"}, "ai-serving:gcp.namePrefix", "at most 15 characters"),
        ({"namePrefix": "ai-serving-prod2"}, "ai-serving:gcp.namePrefix", "at most 15 characters"),
        ({"network": {"subnetCidr": "34.0.0.0/24"}}, "ai-serving:gcp.network.subnetCidr", "private"),
        ({"vm": {"provisioningModel": "PREEMPTIBLE"}}, "ai-serving:gcp.vm.provisioningModel", "'STANDARD' or 'SPOT'"),
        ({"vm": {"spotTerminationAction": "SUSPEND"}}, "ai-serving:gcp.vm.spotTerminationAction", "'STOP' or 'DELETE'"),
        ({"vm": {"bootDisk": {"sizeGb": 20}}}, "ai-serving:gcp.vm.bootDisk.sizeGb", "greater than or equal to 50"),
        ({"vm": {"dataDisk": {"sizeGb": 100, "type": "pd-standard"}}}, "ai-serving:gcp.vm.dataDisk.type", "'pd-balanced' or 'pd-ssd'"),
        (
            {"app": {"image": f"us-docker.pkg.dev/proj-1234/r/i@{DIGEST}", "port": 80}},
            "ai-serving:gcp.app.port",
            "greater than or equal to 1024",
        ),
        ({"deploy": {"ref": "main"}}, "ai-serving:gcp.deploy.ref", "pattern"),
        ({"labels": {"Team": "x"}}, "ai-serving:gcp.labels.Team", "pattern"),
        ({"sshFromAnywhere": True}, "ai-serving:gcp.sshFromAnywhere", "unknown key"),
    ],
)
def test_structural_errors_name_the_key(patch: dict[str, Any], path: str, message: str) -> None:
    raw = _raw()
    raw["gcp"] |= patch
    problems = _problems(raw)
    assert path in problems, problems
    assert message in problems[path]
