"""The bootstrap program (bootstrap/) under the plan engine: its checked-in example stack file, as `pulumi up`
would run it, declares a state bucket and keys that keep the state private, encrypted, versioned and logged."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bootstrap import program
from bootstrap.config import BootstrapConfigError, load_bootstrap_config
from infra.plan.engine import ProgramEvaluation, RecordedResource, evaluate
from infra.plan.stackfile import read_stack_file
from infra.plan.standin_context import ACCOUNT_ID, Context
from infra.plan.standins import resource_outputs
from tests.harness import PROJECT_DIR, inputs, of_type, one

BOOTSTRAP_DIR = PROJECT_DIR / "bootstrap"
ADMIN = "arn:aws:iam::123456789012:role/platform-admin"
CTX = Context(region="us-west-2", gcp_project="unused", project="ai-serving-bootstrap", stack="state")


@pytest.fixture(scope="module")
def evaluation() -> ProgramEvaluation:
    stack_file = read_stack_file(BOOTSTRAP_DIR, "state")
    return evaluate(
        program.main,
        project=stack_file.project,
        stack="state",
        config=stack_file.config,
        secret_keys=stack_file.secret_keys,
        ctx=CTX,
    )


def _by_bucket(evaluation: ProgramEvaluation, typ: str, bucket_id: str) -> dict[str, Any]:
    matches = [inputs(r) for r in of_type(evaluation, typ) if inputs(r)["bucket"] == bucket_id]
    assert len(matches) == 1, f"{typ} of {bucket_id}: {len(matches)}"
    return matches[0]


def _bucket(evaluation: ProgramEvaluation, bucket_name: str) -> RecordedResource:
    return next(r for r in of_type(evaluation, "aws:s3/bucket:Bucket") if inputs(r)["bucket"] == bucket_name)


def _bucket_id(evaluation: ProgramEvaluation, bucket_name: str) -> str:
    """The id the bucket's configuration resources reference (a bucket's id is its name)."""
    return _standin(_bucket(evaluation, bucket_name))[0]


def _standin(resource: RecordedResource) -> tuple[str, dict[str, Any]]:
    """The id and outputs the plan answered for `resource` (what other resources saw of it)."""
    return resource_outputs(CTX, resource.type, resource.name, resource.inputs)


def _key(evaluation: ProgramEvaluation, alias: str) -> dict[str, Any]:
    """The inputs of the key behind `alias/<alias>`, with its ARN."""
    target = next(inputs(a)["targetKeyId"] for a in of_type(evaluation, "aws:kms/alias:Alias") if inputs(a)["name"] == f"alias/{alias}")
    (key,) = [k for k in of_type(evaluation, "aws:kms/key:Key") if _standin(k)[1]["keyId"] == target]
    return inputs(key) | {"arn": _standin(key)[1]["arn"], "protect": key.protect}


def _statements(document: str) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(document)["Statement"]}


STATE = "example-ai-serving-pulumi-state"
LOGS = "example-ai-serving-pulumi-state-logs"


@pytest.mark.parametrize("bucket_name", [STATE, LOGS])
def test_both_buckets_are_private_owner_enforced_versioned_with_expiring_old_versions(
    evaluation: ProgramEvaluation, bucket_name: str
) -> None:
    bucket_id = _bucket_id(evaluation, bucket_name)
    block = _by_bucket(evaluation, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket_id)
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    ownership = _by_bucket(evaluation, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", bucket_id)
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    versioning = _by_bucket(evaluation, "aws:s3/bucketVersioning:BucketVersioning", bucket_id)
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    (rule,) = _by_bucket(evaluation, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", bucket_id)["rules"]
    assert rule["status"] == "Enabled"
    expected_days = 90 if bucket_name == STATE else 365
    assert rule["noncurrentVersionExpiration"]["noncurrentDays"] == expected_days
    assert _bucket(evaluation, bucket_name).protect


def test_state_bucket_is_encrypted_with_its_dedicated_key_and_logs_to_the_log_bucket(evaluation: ProgramEvaluation) -> None:
    state_key = _key(evaluation, "ai-serving-pulumi-state")
    encryption = _by_bucket(
        evaluation, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", _bucket_id(evaluation, STATE)
    )
    (rule,) = encryption["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": state_key["arn"]}
    assert rule["bucketKeyEnabled"] is True
    assert state_key["arn"] != _key(evaluation, "ai-serving-pulumi-secrets")["arn"]
    logging = _by_bucket(evaluation, "aws:s3/bucketLogging:BucketLogging", _bucket_id(evaluation, STATE))
    assert logging["targetBucket"] == _bucket_id(evaluation, LOGS)
    # The log bucket is encrypted too (SSE-S3: S3 cannot deliver access logs to an SSE-KMS bucket).
    log_encryption = _by_bucket(
        evaluation, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", _bucket_id(evaluation, LOGS)
    )
    assert log_encryption["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"


def test_state_bucket_policy_denies_plain_http_foreign_encryption_and_guard_changes_by_others(evaluation: ProgramEvaluation) -> None:
    state_key_arn = _key(evaluation, "ai-serving-pulumi-state")["arn"]
    policy = _statements(_by_bucket(evaluation, "aws:s3/bucketPolicy:BucketPolicy", _bucket_id(evaluation, STATE))["policy"])
    assert all(s["Effect"] == "Deny" for s in policy.values())
    tls = policy["DenyInsecureTransport"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(tls["Resource"]) == {f"arn:aws:s3:::{STATE}", f"arn:aws:s3:::{STATE}/*"} and tls["Action"] == "s3:*"
    encryption = policy["DenyUploadsNotEncryptedWithStateKey"]
    assert encryption["Action"] == "s3:PutObject"
    assert encryption["Condition"]["StringNotEqualsIfExists"] == {
        "s3:x-amz-server-side-encryption": "aws:kms",
        "s3:x-amz-server-side-encryption-aws-kms-key-id": state_key_arn,
    }
    assert policy["DenyCustomerProvidedKeys"]["Condition"] == {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}}
    guards = policy["OnlyAdministratorsChangeBucketGuards"]
    assert {"s3:DeleteBucket", "s3:PutBucketPolicy", "s3:PutEncryptionConfiguration", "s3:PutBucketVersioning"} <= set(guards["Action"])
    assert guards["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": [ADMIN]}}


def test_log_bucket_accepts_only_the_state_buckets_access_logs_over_tls(evaluation: ProgramEvaluation) -> None:
    policy = _statements(_by_bucket(evaluation, "aws:s3/bucketPolicy:BucketPolicy", _bucket_id(evaluation, LOGS))["policy"])
    assert policy["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    delivery = policy["S3ServerAccessLogsForStateBucket"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"} and delivery["Action"] == "s3:PutObject"
    assert delivery["Condition"] == {
        "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{STATE}"},
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
    }


@pytest.mark.parametrize("alias", ["ai-serving-pulumi-secrets", "ai-serving-pulumi-state"])
def test_keys_rotate_are_protected_and_have_explicit_policies_without_kms_star(evaluation: ProgramEvaluation, alias: str) -> None:
    key = _key(evaluation, alias)
    assert key["enableKeyRotation"] is True and key["protect"]
    statements = _statements(key["policy"])
    admin = statements["NamedAdministratorsAdministerKey"]
    assert admin["Principal"] == {"AWS": [ADMIN]}
    for statement in statements.values():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert "kms:*" not in actions and statement["Effect"] == "Allow"
        if statement is not admin:
            assert statement["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
            assert statement["Condition"]["StringEquals"]["kms:CallerAccount"] == ACCOUNT_ID
            assert not {"kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"} & set(actions)


def test_state_key_is_usable_only_through_s3_for_the_state_bucket(evaluation: ProgramEvaluation) -> None:
    use = _statements(_key(evaluation, "ai-serving-pulumi-state")["policy"])["S3UsesKeyForStateBucketOnly"]
    assert use["Condition"]["StringEquals"]["kms:ViaService"] == "s3.us-west-2.amazonaws.com"
    assert use["Condition"]["StringLike"] == {"kms:EncryptionContext:aws:s3:arn": [f"arn:aws:s3:::{STATE}", f"arn:aws:s3:::{STATE}/*"]}


def test_exports_name_the_login_url_and_secrets_provider(evaluation: ProgramEvaluation) -> None:
    assert evaluation.outputs["pulumiLogin"] == f"s3://{STATE}?region=us-west-2"
    assert evaluation.outputs["secretsProvider"] == "awskms://alias/ai-serving-pulumi-secrets?region=us-west-2"
    assert one(evaluation, "ai-serving:aws:StateBackend").name == "backend"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"adminPrincipalArns": [ADMIN]}, "stateBucketName"),
        ({"stateBucketName": "my.state", "adminPrincipalArns": [ADMIN]}, "stateBucketName"),
        ({"stateBucketName": "state-bucket", "adminPrincipalArns": []}, "adminPrincipalArns"),
        ({"stateBucketName": "state-bucket", "adminPrincipalArns": ["arn:aws:sts::123456789012:assumed-role/x/y"]}, "adminPrincipalArns"),
        (
            {"stateBucketName": "state-bucket", "adminPrincipalArns": [ADMIN], "noncurrentVersionRetentionDays": 1},
            "noncurrentVersionRetentionDays",
        ),
        ({"stateBucketName": "state-bucket", "adminPrincipalArns": [ADMIN], "logBucketName": "state-bucket"}, "logBucketName"),
        ({"stateBucketName": "state-bucket", "adminPrincipalArns": [ADMIN], "stateBuckt": "x"}, "stateBuckt"),
    ],
)
def test_invalid_bootstrap_config_is_refused_naming_the_key(raw: dict[str, Any], problem: str) -> None:
    with pytest.raises(BootstrapConfigError, match=problem):
        load_bootstrap_config(raw)


def test_every_resource_type_is_classified_for_the_plan_diff(evaluation: ProgramEvaluation) -> None:
    from infra.plan.force_new import FORCE_NEW

    assert sorted({r.type for r in evaluation.resources} - set(FORCE_NEW)) == []
    assert "Pulumi state" in (FORCE_NEW["aws:s3/bucket:Bucket"].loses or "")
