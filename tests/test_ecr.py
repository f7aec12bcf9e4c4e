import json
from typing import Any

import pulumi
import pytest

from components.aws.ecr import PULL_ACTIONS, PUSH_ACTIONS, ImageRepository, ImageRepositoryArgs, lifecycle_policy, repository_policy
from infra.config.aws import EcrConfig
from infra.plan.engine import ProgramEvaluation
from infra.plan.standin_context import Context
from infra.plan.standins import resource_outputs
from tests.harness import inputs, of_type, one, run, stack_config

PUSH_ROLE = "arn:aws:iam::123456789012:role/ai-serving-staging-image-push"
NODE_ROLE = "arn:aws:iam::123456789012:role/ai-serving-staging-nodes"
REPOSITORY = "aws:ecr/repository:Repository"
KEY = "aws:kms/key:Key"


# --- lifecycle policy ----------------------------------------------------------------------------------------


def test_untagged_images_expire_by_age() -> None:
    rules = lifecycle_policy(keep_tagged_images=20, untagged_expiry_days=3)["rules"]
    untagged = [r for r in rules if r["selection"]["tagStatus"] == "untagged"]
    assert len(untagged) == 1
    assert untagged[0]["selection"] == {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 3}
    assert untagged[0]["action"] == {"type": "expire"}


def test_tagged_images_are_kept_by_count_over_every_tag() -> None:
    rules = lifecycle_policy(keep_tagged_images=20, untagged_expiry_days=3)["rules"]
    tagged = [r for r in rules if r["selection"]["tagStatus"] == "tagged"]
    assert len(tagged) == 1
    assert tagged[0]["selection"] == {"tagStatus": "tagged", "tagPatternList": ["*"], "countType": "imageCountMoreThan", "countNumber": 20}


def test_no_rule_expires_tagged_images_by_age() -> None:
    # An age rule on tagged (or any) images would delete the image a long-running stable release still uses.
    for rule in lifecycle_policy(50, 7)["rules"]:
        if rule["selection"]["tagStatus"] != "untagged":
            assert rule["selection"]["countType"] == "imageCountMoreThan", rule


def test_rule_priorities_are_unique_and_ordered() -> None:
    priorities = [r["rulePriority"] for r in lifecycle_policy(5, 1)["rules"]]
    assert priorities == sorted(set(priorities))


@pytest.mark.parametrize(("keep", "days"), [(0, 7), (5, 0)])
def test_lifecycle_rejects_zero(keep: int, days: int) -> None:
    with pytest.raises(ValueError):
        lifecycle_policy(keep, days)


# --- repository policy ---------------------------------------------------------------------------------------


def _statement(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    matches: list[dict[str, Any]] = [s for s in policy["Statement"] if s["Sid"] == sid]
    assert len(matches) == 1, sid
    return matches[0]


def test_nodes_may_pull_and_only_pull() -> None:
    pull = _statement(repository_policy([NODE_ROLE], PUSH_ROLE), "NodesPull")
    assert pull["Effect"] == "Allow"
    assert pull["Principal"] == {"AWS": [NODE_ROLE]}
    assert sorted(pull["Action"]) == sorted(PULL_ACTIONS)
    assert not set(pull["Action"]) & set(PUSH_ACTIONS)


def test_everyone_but_the_push_role_is_denied_pushing() -> None:
    deny = _statement(repository_policy([NODE_ROLE], PUSH_ROLE), "OnlyCiPushes")
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == "*"
    assert sorted(deny["Action"]) == sorted(["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"])
    assert deny["Condition"] == {"StringNotEquals": {"aws:PrincipalArn": PUSH_ROLE}}


def test_deny_leaves_management_and_pulls_to_admins() -> None:
    # Account admins (and the deploy role) must still be able to fix or remove this policy, delete images
    # and pull; only pushing is reserved to CI.
    for statement in repository_policy([NODE_ROLE], PUSH_ROLE)["Statement"]:
        if statement["Effect"] != "Deny":
            continue
        for action in statement["Action"]:
            assert action in PUSH_ACTIONS, action
            assert "*" not in action


def test_push_role_is_allowed_to_push() -> None:
    allow = _statement(repository_policy([], PUSH_ROLE), "CiPush")
    assert allow["Principal"] == {"AWS": PUSH_ROLE}
    assert set(PUSH_ACTIONS) <= set(allow["Action"])


def test_no_pull_statement_without_pull_principals() -> None:
    assert all(s["Sid"] != "NodesPull" for s in repository_policy([], PUSH_ROLE)["Statement"])


# --- component under mocks -----------------------------------------------------------------------------------


def _repository(stack: str) -> tuple[ProgramEvaluation, EcrConfig]:
    raw = stack_config(stack)
    ecr = EcrConfig.model_validate(raw["ecr"])
    protect = bool(raw["protectStatefulResources"])
    args = ImageRepositoryArgs(
        repository_name=ecr.repository_name,
        keep_tagged_images=ecr.keep_tagged_images,
        untagged_expiry_days=ecr.untagged_expiry_days,
        push_role_arn=PUSH_ROLE,
        pull_principal_arns=[NODE_ROLE],
        stack=stack,
        region="us-west-2",
        name_prefix=f"ai-serving-{stack}-",
        protect=protect,
    )

    def program() -> None:
        ImageRepository("ecr", args)

    return run(program, stack=stack), ecr


def test_repository_scans_on_push_with_immutable_tags() -> None:
    ev, ecr = _repository("staging")
    repo = inputs(one(ev, REPOSITORY))
    assert repo["name"] == ecr.repository_name
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["imageTagMutability"] == "IMMUTABLE"


def test_repository_is_encrypted_with_its_own_rotating_key() -> None:
    ev, _ = _repository("staging")
    key = one(ev, KEY)
    assert inputs(key)["enableKeyRotation"] is True
    expected_arn = resource_outputs(Context("us-west-2", None), KEY, key.name, {})[1]["arn"]
    encryption = inputs(one(ev, REPOSITORY))["encryptionConfigurations"]
    assert encryption == [{"encryptionType": "KMS", "kmsKey": expected_arn}]


def test_lifecycle_policy_is_attached_to_the_repository() -> None:
    ev, ecr = _repository("staging")
    policy = inputs(one(ev, "aws:ecr/lifecyclePolicy:LifecyclePolicy"))
    assert policy["repository"] == ecr.repository_name
    assert json.loads(policy["policy"]) == lifecycle_policy(ecr.keep_tagged_images, ecr.untagged_expiry_days)


def test_repository_policy_is_attached_with_the_push_role() -> None:
    ev, ecr = _repository("staging")
    policy = inputs(one(ev, "aws:ecr/repositoryPolicy:RepositoryPolicy"))
    assert policy["repository"] == ecr.repository_name
    assert json.loads(policy["policy"]) == repository_policy([NODE_ROLE], PUSH_ROLE)


def test_production_protects_and_retains_repository_and_key() -> None:
    ev, _ = _repository("production")
    for resource in (one(ev, REPOSITORY), one(ev, KEY)):
        assert resource.protect, resource.type
        assert resource.retain_on_delete, resource.type
    assert not inputs(one(ev, REPOSITORY)).get("forceDelete", False)


def test_staging_neither_protects_nor_retains() -> None:
    ev, _ = _repository("staging")
    for resource in (one(ev, REPOSITORY), one(ev, KEY)):
        assert not resource.protect, resource.type
        assert not resource.retain_on_delete, resource.type


def test_key_alias_is_stack_scoped() -> None:
    ev, _ = _repository("staging")
    aliases = of_type(ev, "aws:kms/alias:Alias")
    assert [inputs(a)["name"] for a in aliases] == ["alias/ai-serving-staging-ecr"]


def test_outputs_repository_url_and_arn() -> None:
    def program() -> None:
        repo = ImageRepository(
            "ecr",
            ImageRepositoryArgs(
                "ai-serving/vllm-server", 5, 3, PUSH_ROLE, [NODE_ROLE], "staging", "us-west-2", "ai-serving-staging-", protect=False
            ),
        )
        pulumi.export("url", repo.repository_url)
        pulumi.export("arn", repo.repository_arn)
        pulumi.export("key", repo.kms_key_arn)

    ev = run(program, stack="staging")
    assert ev.outputs["url"] == "123456789012.dkr.ecr.us-west-2.amazonaws.com/ai-serving/vllm-server"
    assert ev.outputs["arn"] == "arn:aws:ecr:us-west-2:123456789012:repository/ai-serving/vllm-server"
    assert ev.outputs["key"].startswith("arn:aws:kms:us-west-2:123456789012:key/")


def test_repository_key_has_an_explicit_policy_that_allows_use_only_through_ecr() -> None:
    ev, _ = _repository("production")
    policy = json.loads(inputs(one(ev, "aws:kms/key:Key"))["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert set(by_sid) == {"AccountAdministersKeyThroughIam", "GrantsOnlyForAwsResources", "UseOnlyThroughEcr"}
    assert by_sid["UseOnlyThroughEcr"]["Condition"]["StringEquals"]["kms:ViaService"] == "ecr.us-west-2.amazonaws.com"
    assert "kms:Decrypt" not in by_sid["AccountAdministersKeyThroughIam"]["Action"]
    assert by_sid["GrantsOnlyForAwsResources"]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
