"""Stack config validation: the checked-in stacks parse; each rule rejects a bad value with a line naming it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.config import ConfigError, load_stack_config
from tests.harness import stack_config


def _problems(raw: dict[str, Any], region: str = "us-west-2") -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_stack_config(raw, region)
    return [str(p) for p in err.value.problems]


@pytest.fixture
def staging() -> dict[str, Any]:
    return copy.deepcopy(stack_config("staging"))


@pytest.mark.parametrize(("stack", "region"), [("staging", "us-west-2"), ("production", "us-east-1")])
def test_checked_in_stacks_are_valid(stack: str, region: str) -> None:
    cfg = load_stack_config(stack_config(stack), region)
    assert cfg.tier == stack


def test_stacks_differ_in_the_promised_ways() -> None:
    staging = load_stack_config(stack_config("staging"), "us-west-2")
    production = load_stack_config(stack_config("production"), "us-east-1")
    assert all(g.capacity_type == "SPOT" and g.scaling.min_size == 0 for g in staging.gpu_node_groups)
    assert all(g.capacity_type == "ON_DEMAND" and g.scaling.min_size >= 2 for g in production.gpu_node_groups)
    assert (staging.network.nat_gateways, production.network.nat_gateways) == ("single", "perAz")
    assert len(production.network.availability_zones) == 3


def test_unknown_key_is_rejected_with_its_path(staging: dict[str, Any]) -> None:
    staging["cluster"]["kubernetesVersoin"] = "1.34"
    assert _problems(staging) == [
        "ai-serving:cluster.kubernetesVersoin: got '1.34'; unknown key (check the spelling; see the config reference in the README)"
    ]


def test_unknown_top_level_key_is_rejected(staging: dict[str, Any]) -> None:
    staging["gpuNodeGroup"] = []
    assert _problems(staging)[0].startswith("ai-serving:gpuNodeGroup: got []; unknown key")


def test_wrong_type_names_key_and_value(staging: dict[str, Any]) -> None:
    staging["gpuNodeGroups"][0]["diskSizeGib"] = "big"
    [line] = _problems(staging)
    assert line.startswith("ai-serving:gpuNodeGroups[0].diskSizeGib: got 'big';")


def test_out_of_range_value(staging: dict[str, Any]) -> None:
    staging["gpuNodeGroups"][0]["diskSizeGib"] = 10
    [line] = _problems(staging)
    assert "gpuNodeGroups[0].diskSizeGib: got 10; input should be greater than or equal to 50" in line


def test_min_desired_max_order(staging: dict[str, Any]) -> None:
    staging["gpuNodeGroups"][0]["scaling"] = {"minSize": 3, "desiredSize": 1, "maxSize": 2}
    [line] = _problems(staging)
    assert line.startswith("ai-serving:gpuNodeGroups[0].scaling: got {'minSize': 3")
    assert "minSize <= desiredSize <= maxSize" in line


def test_gpu_group_rejects_cpu_instance_types(staging: dict[str, Any]) -> None:
    staging["gpuNodeGroups"][0]["instanceTypes"] = ["g6.xlarge", "m7i.large"]
    [line] = _problems(staging)
    assert "gpuNodeGroups[0].instanceTypes" in line and "['m7i.large'] are not GPU instance types" in line


def test_gpu_group_rejects_mixed_gpu_counts(staging: dict[str, Any]) -> None:
    staging["gpuNodeGroups"][0]["instanceTypes"] = ["g6.xlarge", "g6.12xlarge"]
    assert "same number of GPUs" in _problems(staging)[0]


def test_system_group_rejects_gpu_types(staging: dict[str, Any]) -> None:
    staging["cluster"]["systemNodeGroup"]["instanceTypes"] = ["g5.xlarge"]
    assert "belong in gpuNodeGroups" in _problems(staging)[0]


def test_ami_type_must_be_a_gpu_ami(staging: dict[str, Any]) -> None:
    staging["gpuNodeGroups"][0]["amiType"] = "AL2023_x86_64_STANDARD"
    assert _problems(staging)[0].startswith("ai-serving:gpuNodeGroups[0].amiType: got 'AL2023_x86_64_STANDARD'")


def test_at_least_two_availability_zones(staging: dict[str, Any]) -> None:
    staging["network"]["availabilityZones"] = ["us-west-2a"]
    assert _problems(staging)[0].startswith("ai-serving:network.availabilityZones: got ['us-west-2a']")


def test_zones_must_be_in_the_region(staging: dict[str, Any]) -> None:
    assert _problems(staging, region="eu-west-1")[0].startswith(
        "ai-serving:network.availabilityZones[0]: got 'us-west-2a'; must be a zone of aws:region eu-west-1"
    )


def test_public_endpoint_needs_cidrs(staging: dict[str, Any]) -> None:
    staging["cluster"]["publicAccessCidrs"] = []
    assert _problems(staging)[0].startswith("ai-serving:cluster.publicAccessCidrs: got []")


def _production_with_open_endpoint() -> dict[str, Any]:
    raw = copy.deepcopy(stack_config("production"))
    raw["cluster"]["publicAccessCidrs"] = ["0.0.0.0/0"]
    return raw


def test_production_refuses_api_endpoint_open_to_the_world() -> None:
    assert _problems(_production_with_open_endpoint(), "us-east-1") == [
        "ai-serving:cluster.publicAccessCidrs[0]: got '0.0.0.0/0'; production may not open the API endpoint to 0.0.0.0/0 "
        "unless cluster.allowPublicEndpointFromAnywhere is true"
    ]


def test_documented_override_allows_it() -> None:
    raw = _production_with_open_endpoint()
    raw["cluster"]["allowPublicEndpointFromAnywhere"] = True
    assert load_stack_config(raw, "us-east-1").cluster.allow_public_endpoint_from_anywhere


def test_staging_may_open_the_endpoint(staging: dict[str, Any]) -> None:
    staging["cluster"]["publicAccessCidrs"] = ["0.0.0.0/0"]
    assert load_stack_config(staging, "us-west-2").tier == "staging"


def test_production_must_protect_state() -> None:
    raw = copy.deepcopy(stack_config("production"))
    raw["protectStatefulResources"] = False
    assert _problems(raw, "us-east-1") == ["ai-serving:protectStatefulResources: got False; must be true when tier is production"]


def test_github_ids_come_in_pairs(staging: dict[str, Any]) -> None:
    del staging["github"]["repositoryId"]
    assert "ownerId and repositoryId" in _problems(staging)[0]


def test_every_problem_is_reported_at_once(staging: dict[str, Any]) -> None:
    staging["gpuNodeGroups"][0]["diskSizeGib"] = 1
    staging["ecr"]["keepTaggedImages"] = 0
    staging["cluster"]["typo"] = True
    assert len(_problems(staging)) == 3


def test_a_secret_key_in_plain_text_is_refused_without_echoing_it(staging: dict[str, Any]) -> None:
    staging["huggingFaceToken"] = "hf_plaintextvalue"
    problems = _problems(staging)
    assert problems == [
        "ai-serving:huggingFaceToken: got '<plain text, not shown>'; must be set encrypted: pulumi config set --secret ai-serving:huggingFaceToken"
    ]
    assert not any("hf_plaintextvalue" in p for p in problems)


def test_secrets_marked_by_the_runtime_are_accepted(staging: dict[str, Any]) -> None:
    # Under `pulumi up` the value arrives decrypted; the runtime says which keys were secrets.
    staging["huggingFaceToken"] = "hf_decrypted"
    encrypted = frozenset(k for k, v in staging.items() if isinstance(v, dict) and set(v) == {"secure"})
    assert load_stack_config(staging, "us-west-2", encrypted | {"huggingFaceToken"}).tier == "staging"


def test_values_of_encrypted_keys_never_appear_in_problems(staging: dict[str, Any]) -> None:
    # Under `pulumi up` a misspelt secret key arrives decrypted; the problem line lands in the CI log.
    staging["huggingfaceToken"] = "hf_decrypted_value"
    staging["network"]["cidr"] = "10.20.0.0/24"
    encrypted = frozenset({"huggingFaceToken", "alertmanagerDiscordWebhook", "gcpAppEnv", "huggingfaceToken", "network"})
    with pytest.raises(ConfigError) as err:
        load_stack_config(staging, "us-west-2", encrypted)
    lines = [str(p) for p in err.value.problems]
    assert (
        "ai-serving:huggingfaceToken: got '<secret, not shown>'; unknown key (check the spelling; see the config reference in the README)"
        in lines
    )
    assert any(line.startswith("ai-serving:network.cidr: got '<secret, not shown>'; must be a /20 or larger") for line in lines)
    assert not any("hf_decrypted_value" in line or "10.20.0.0/24" in line for line in lines)
