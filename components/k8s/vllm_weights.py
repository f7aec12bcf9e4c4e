"""Weights pulled once per revision, not once per pod: the staging Job and the IAM documents around it, as plain data.

For a model with StagedWeights, VllmService registers (before the Rollout, which waits for the Job):
- `ServiceAccount <model>-weights-stager` with an IRSA role that may write under the revision's prefix only;
- `ConfigMap <model>-weights-stager` holding weights_stager_script.py;
- `Job <model>-weights-<revision[:10]>` running that script with the serving image's Python: download the pinned
  revision from the hub, verify every file against the hub's metadata, upload it, write the manifest last; a rerun
  that finds the manifest does nothing. A new revision is a new Job name (Jobs are immutable) and a new prefix;
- `NetworkPolicy <model>-weights-stager`: DNS and HTTPS out (hub, S3, STS), nothing in.
The serving pods then read `s3://<bucket>/models/<repo>/<revision>/` with vLLM's Run:ai streamer and never contact
the hub (HF_HUB_OFFLINE=1, no token mounted).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from catalogs.gpu_scheduling import NODE_GROUP_LABEL, SYSTEM_NODE_GROUP_NAME

from .vllm_model import StagedWeights, VllmModel
from .vllm_objects import IRSA_TOKEN_WAIVER, common_labels
from .vllm_pod import HF_TOKEN_DIR, HF_TOKEN_SECRET_KEY, container_security_context, image_pull_policy, pod_security_context

SCRIPT_PATH = Path(__file__).with_name("weights_stager_script.py")
SCRIPT_KEY = "stage_weights.py"
SCRIPT_DIR = "/opt/weights-stager"
WORK_DIR = "/work"
STAGER_COMPONENT = "weights-stager"
# Download (hub, 40 MiB/s as in the cold-start budget) plus upload, with room for retries within one attempt.
HUB_MIB_PER_SECOND = 40
STAGING_MARGIN_SECONDS = 900
BACKOFF_LIMIT = 3


def staged(model: VllmModel) -> StagedWeights:
    if not isinstance(model.weights, StagedWeights):
        raise ValueError(f"model {model.name} does not stage its weights")
    return model.weights


def stager_name(model: VllmModel) -> str:
    return f"{model.name}-{STAGER_COMPONENT}"


def job_name(model: VllmModel) -> str:
    """One Job per revision: a Job's pod template is immutable, and the name says which revision it copied."""
    return f"{model.name}-weights-{staged(model).revision[:10]}"


def attempt_deadline_seconds(model: VllmModel) -> int:
    """activeDeadlineSeconds of the Job: two passes over the weights at hub speed (download, upload) plus a margin."""
    return math.ceil(2 * model.weights_gib * 1024 / HUB_MIB_PER_SECOND) + STAGING_MARGIN_SECONDS


def job_metadata(model: VllmModel, namespace: str) -> dict[str, Any]:
    return {
        "name": job_name(model),
        "namespace": namespace,
        "labels": stager_labels(model),
        "annotations": {"checkov.io/skip1": IRSA_TOKEN_WAIVER},
    }


def stager_labels(model: VllmModel) -> dict[str, str]:
    return {**common_labels(model), "app.kubernetes.io/component": STAGER_COMPONENT}


def _meta(name: str, namespace: str, model: VllmModel) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": stager_labels(model)}


def s3_prefix_arns(bucket: str, prefix: str) -> tuple[str, str]:
    return f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/{prefix}/*"


def stager_policy(bucket: str, prefix: str, key_arn: str) -> dict[str, Any]:
    """Write and read the revision's prefix, list only that prefix, encrypt with the bucket's key."""
    bucket_arn, objects_arn = s3_prefix_arns(bucket, prefix)
    return {
        "Version": "2012-10-17",
        "Statement": [
            # AbortMultipartUpload: boto3 cleans up after a failed part; nothing can be deleted.
            {
                "Sid": "StageWeights",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
                "Resource": [objects_arn],
            },
            {
                "Sid": "ListStagedWeights",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [bucket_arn],
                "Condition": {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}},
            },
            {"Sid": "BucketKey", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": [key_arn]},
        ],
    }


def reader_key_statement(key_arn: str) -> dict[str, Any]:
    """The serving pods decrypt the staged objects (SSE-KMS) with the bucket's key, nothing else."""
    return {"Sid": "BucketKey", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [key_arn]}


def script_config_map(model: VllmModel, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(stager_name(model), namespace, model),
        "data": {SCRIPT_KEY: SCRIPT_PATH.read_text()},
    }


def network_policy(model: VllmModel, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(stager_name(model), namespace, model),
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": model.name, "app.kubernetes.io/component": STAGER_COMPONENT}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                },
                # The hub, S3 and STS over HTTPS; never the instance metadata address.
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}], "ports": [{"protocol": "TCP", "port": 443}]},
            ],
        },
    }


def staging_job(model: VllmModel, namespace: str, region: str, hf_token_secret: str | None) -> dict[str, Any]:
    """The Job that copies the revision (model must be resolved: its bucket and image registry known)."""
    weights = staged(model)
    if weights.bucket is None:
        raise ValueError(f"model {model.name}: the model bucket is not resolved")
    env = [
        {"name": "REPO_ID", "value": weights.repo_id},
        {"name": "REVISION", "value": weights.revision},
        {"name": "BUCKET", "value": weights.bucket},
        {"name": "PREFIX", "value": weights.prefix},
        {"name": "AWS_REGION", "value": region},
        {"name": "WORK_DIR", "value": f"{WORK_DIR}/files"},
        {"name": "HOME", "value": WORK_DIR},
        {"name": "HF_HOME", "value": f"{WORK_DIR}/hf"},
        {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"},
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "script", "configMap": {"name": stager_name(model), "defaultMode": 0o444}},
        # One file at a time lives here (deleted after its upload); the largest shard plus headroom fits.
        {"name": "work", "emptyDir": {"sizeLimit": f"{math.ceil(model.weights_gib) + 2}Gi"}},
        # The root filesystem is read-only; Python's tempfile and the hub client need a writable /tmp.
        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "script", "mountPath": SCRIPT_DIR, "readOnly": True},
        {"name": "work", "mountPath": WORK_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    if hf_token_secret is not None:
        env.append({"name": "HF_TOKEN_PATH", "value": f"{HF_TOKEN_DIR}/{HF_TOKEN_SECRET_KEY}"})
        volumes.append(
            {
                "name": "hf-token",
                "secret": {
                    "secretName": hf_token_secret,
                    "items": [{"key": HF_TOKEN_SECRET_KEY, "path": HF_TOKEN_SECRET_KEY}],
                    "defaultMode": 0o440,
                },
            }
        )
        mounts.append({"name": "hf-token", "mountPath": HF_TOKEN_DIR, "readOnly": True})
    amounts = {"cpu": "1", "memory": "4Gi", "ephemeral-storage": f"{math.ceil(model.weights_gib) + 3}Gi"}
    labels = stager_labels(model)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": job_metadata(model, namespace),
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "activeDeadlineSeconds": attempt_deadline_seconds(model) * (BACKOFF_LIMIT + 1),
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": stager_name(model),
                    # IRSA (see IRSA_TOKEN_WAIVER).
                    "automountServiceAccountToken": True,
                    "enableServiceLinks": False,
                    "restartPolicy": "Never",
                    "securityContext": pod_security_context(),
                    # CPU nodes: a copy job never holds a GPU.
                    "nodeSelector": {NODE_GROUP_LABEL: SYSTEM_NODE_GROUP_NAME},
                    "containers": [
                        {
                            "name": "stage-weights",
                            "image": model.image.pull_reference,
                            "imagePullPolicy": image_pull_policy(model),
                            "command": ["python3", f"{SCRIPT_DIR}/{SCRIPT_KEY}"],
                            "env": env,
                            "resources": {"requests": dict(amounts), "limits": dict(amounts)},
                            "volumeMounts": mounts,
                            "securityContext": container_security_context(),
                        }
                    ],
                    "volumes": volumes,
                },
            },
        },
    }
