"""Weights pulled once per revision: the staged path, the staging Job, its script's checks, the bucket and the rules."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from components.aws.ci_deploy_policy import deploy_policy
from components.k8s import vllm_weights
from components.k8s.vllm_model import StagedWeights, resolved_model
from components.k8s.weights_stager_script import HubFile, already_staged, file_digests, manifest, verification_error
from infra.args.serving import stack_model
from infra.config import ConfigError, load_stack_config
from infra.plan.standin_context import ACCOUNT_ID
from tests.harness import checked_in_plan, stack_config
from tests.test_ci_policies import _scope

BUCKET = f"ai-serving-production-model-weights-{ACCOUNT_ID}"
REVISION = stack_config("production")["models"][0]["revision"]


def _objects(kind: str) -> list[dict[str, Any]]:
    return [o for o in checked_in_plan("production").objects if o["kind"] == kind]


def test_staged_path_keeps_the_pinned_revision() -> None:
    plan = checked_in_plan("production")
    model = stack_model(plan.config, plan.config.models[0])
    assert isinstance(model.weights, StagedWeights) and model.weights.revision == REVISION
    uri = resolved_model(model, None, BUCKET).weights.uri
    assert uri == f"s3://{BUCKET}/models/Qwen/Qwen2.5-7B-Instruct/{REVISION}/"
    [rollout] = _objects("Rollout")
    container = rollout["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][0] == uri
    assert "--load-format=runai_streamer" in container["args"]
    assert not any(a.startswith("--revision") for a in container["args"])
    [job] = _objects("Job")
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert (env["REPO_ID"], env["REVISION"], env["BUCKET"]) == ("Qwen/Qwen2.5-7B-Instruct", REVISION, BUCKET)
    assert env["PREFIX"] == f"models/Qwen/Qwen2.5-7B-Instruct/{REVISION}"
    assert job["metadata"]["name"] == f"qwen-7b-weights-{REVISION[:10]}"
    [record] = [o for o in _objects("ConfigMap") if o["metadata"]["name"] == "qwen-7b-serving-record"]
    assert record["data"]["revision"] == REVISION and record["data"]["source"] == uri


def test_serving_pods_never_contact_the_hub_and_the_job_alone_gets_the_token() -> None:
    [rollout] = _objects("Rollout")
    pod = rollout["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["HF_HUB_OFFLINE"] == "1" and "HF_TOKEN_PATH" not in env
    assert not any("secret" in v for v in pod["volumes"])
    [job] = _objects("Job")
    spec = job["spec"]["template"]["spec"]
    assert any(v.get("secret", {}).get("secretName") == "huggingface-token" for v in spec["volumes"])
    # IRSA needs the token mounted (the checkov waiver says why).
    assert spec["restartPolicy"] == "Never" and spec["automountServiceAccountToken"] is True
    assert job["metadata"]["annotations"]["checkov.io/skip1"].startswith("CKV_K8S_38=IRSA")
    assert spec["nodeSelector"] == {"ai-serving/node-group": "system"}
    [container] = spec["containers"]
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
    # The serving image through the cache: the stager needs no image of its own.
    assert container["image"] == pod["containers"][0]["image"]
    assert container["command"] == ["python3", "/opt/weights-stager/stage_weights.py"]
    [script] = [o for o in _objects("ConfigMap") if o["metadata"]["name"] == "qwen-7b-weights-stager"]
    assert script["data"]["stage_weights.py"] == vllm_weights.SCRIPT_PATH.read_text()


def test_rollout_waits_for_the_job_and_pulumi_waits_long_enough() -> None:
    resources = checked_in_plan("production").document["resources"]
    [rollout] = [r for r in resources if r["name"] == "qwen-7b-rollout"]
    assert any(d.endswith("::qwen-7b-weights-job") for d in rollout["dependencies"])
    [job] = [r for r in resources if r["name"] == "qwen-7b-weights-job"]
    assert job["inputs"]["spec"]["activeDeadlineSeconds"] > 2 * 14.2 * 1024 / 40


def test_roles_are_scoped_to_the_revision_prefix() -> None:
    policy = vllm_weights.stager_policy(BUCKET, f"models/org/m/{REVISION}", "arn:aws:kms:us-east-1:1:key/k")
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["StageWeights"]["Resource"] == [f"arn:aws:s3:::{BUCKET}/models/org/m/{REVISION}/*"]
    assert by_sid["ListStagedWeights"]["Condition"]["StringLike"]["s3:prefix"] == [f"models/org/m/{REVISION}", f"models/org/m/{REVISION}/*"]
    assert "s3:DeleteObject" not in json.dumps(policy)
    resources = checked_in_plan("production").document["resources"]
    [read] = [r for r in resources if r["name"] == "qwen-7b-weights-read"]
    statements = json.loads(read["inputs"]["policy"])["Statement"]
    assert {a for s in statements for a in s["Action"]} == {"s3:GetObject", "s3:ListBucket", "kms:Decrypt"}


def test_bucket_is_encrypted_versioned_private_and_tls_only() -> None:
    resources = {(r["type"], r["name"]): r["inputs"] for r in checked_in_plan("production").document["resources"]}
    assert resources[("aws:s3/bucket:Bucket", "model-weights-bucket")]["bucket"] == BUCKET
    sse = resources[("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "model-weights-bucket")]
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms" and sse["rules"][0]["bucketKeyEnabled"]
    assert resources[("aws:s3/bucketVersioning:BucketVersioning", "model-weights-bucket")]["versioningConfiguration"]["status"] == "Enabled"
    block = resources[("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "model-weights-bucket")]
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    [rule] = resources[("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "model-weights-bucket")]["rules"]
    assert rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 2
    policy = json.loads(resources[("aws:s3/bucketPolicy:BucketPolicy", "model-weights-bucket")]["policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_deploy_role_manages_the_bucket_only_when_the_stack_stages() -> None:
    assert not any(s["Sid"] == "ModelWeightsBucket" for s in deploy_policy(_scope())["Statement"])
    [statement] = [s for s in deploy_policy(_scope(model_weights_bucket=True))["Statement"] if s["Sid"] == "ModelWeightsBucket"]
    account = _scope().account_id
    assert all(r.startswith("arn:aws:s3:::") and f"model-weights-{account}" in r for r in statement["Resource"])


# --- the staging script's checks --------------------------------------------------------------------------------


def test_file_digests_give_sha256_and_the_git_blob_id(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(b"hello\n")
    size, sha256, blob = file_digests(str(path))
    assert size == 6
    assert sha256 == hashlib.sha256(b"hello\n").hexdigest()
    assert blob == "ce013625030ba8dba906f756967f9e9ca394464a"  # `git hash-object` of "hello\n"


def test_verification_fails_on_size_sha256_or_blob_mismatch() -> None:
    lfs = HubFile("model.safetensors", 10, "a" * 64, "b" * 40)
    assert verification_error(lfs, 10, "a" * 64, "whatever") is None
    assert "bytes" in (verification_error(lfs, 9, "a" * 64, "x") or "")
    assert "sha256" in (verification_error(lfs, 10, "c" * 64, "x") or "")
    small = HubFile("config.json", 6, None, "ce013625030ba8dba906f756967f9e9ca394464a")
    assert verification_error(small, 6, "x", "ce013625030ba8dba906f756967f9e9ca394464a") is None
    assert "git blob" in (verification_error(small, 6, "x", "0" * 40) or "")


def test_a_complete_manifest_for_the_same_revision_makes_a_rerun_a_no_op() -> None:
    files = [(HubFile("b.safetensors", 5, "s" * 64, "x"), "s" * 64), (HubFile("a.json", 2, None, "y"), "t" * 64)]
    staged = manifest("org/m", REVISION, files)
    assert list(staged["files"]) == ["a.json", "b.safetensors"]
    sizes = {"a.json": 2, "b.safetensors": 5}
    assert already_staged(staged, "org/m", REVISION, sizes)
    assert not already_staged(staged, "org/m", "0" * 40, sizes)
    assert not already_staged(staged, "org/m", REVISION, {"a.json": 2})
    assert not already_staged(staged, "org/m", REVISION, {"a.json": 2, "b.safetensors": 4})
    assert not already_staged(None, "org/m", REVISION, sizes)


def test_staging_needs_a_pinned_commit() -> None:
    raw = copy.deepcopy(stack_config("staging"))
    raw["serving"]["stageWeights"] = True
    with pytest.raises(ConfigError) as err:
        load_stack_config(raw, "us-west-2")
    [line] = [str(p) for p in err.value.problems if "models[0].revision" in str(p)]
    assert "40 hex" in line
    raw["models"][0]["revision"] = "a" * 40
    # A version with no evaluation record (staging allows that), so the promotion gate does not object to the revision.
    raw["models"][0]["version"] = "v-unevaluated"
    assert load_stack_config(raw, "us-west-2").serving.stage_weights  # type: ignore[union-attr]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_rendered_deploy_policy_still_fits_an_inline_role_policy(stack: str) -> None:
    # IAM caps a role's inline policies at 10,240 characters; production carries the cache and bucket statements.
    [policy] = [
        r for r in checked_in_plan(stack).document["resources"] if r["name"] == "ci-deploy" and r["type"] == "aws:iam/rolePolicy:RolePolicy"
    ]
    assert len(policy["inputs"]["policy"]) < 10_240
