"""The bootstrap program: config -> Args -> the StateBackend component; exports what the main stacks' login needs."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.state_backend import StateBackend

from .args import state_backend_args
from .config import NAMESPACE, load_bootstrap_config

# Pulumi hands every value over as a string: scalars are parsed by the model (a number from its text), lists from JSON.
SCALAR_KEYS = (
    "stateBucketName",
    "logBucketName",
    "secretsKeyAlias",
    "stateKeyAlias",
    "noncurrentVersionRetentionDays",
    "accessLogRetentionDays",
)
LIST_KEYS = ("adminPrincipalArns",)


def read_config() -> dict[str, Any]:
    """The keys that are set; typing and bounds are the model's (bootstrap/config.py)."""
    config = pulumi.Config(NAMESPACE)
    raw: dict[str, Any] = {key: config.get(key) for key in SCALAR_KEYS} | {key: config.get_object(key) for key in LIST_KEYS}
    return {key: value for key, value in raw.items() if value is not None}


def main() -> None:
    cfg = load_bootstrap_config(read_config())
    region = pulumi.Config("aws").require("region")
    account_id = aws.get_caller_identity().account_id
    partition = aws.get_partition().partition
    backend = StateBackend("backend", state_backend_args(cfg, partition=partition, region=region, account_id=account_id))
    pulumi.export("stateBucketName", backend.state_bucket_name)
    pulumi.export("pulumiLogin", pulumi.Output.concat("s3://", backend.state_bucket_name, "?region=", region))
    pulumi.export("secretsKeyArn", backend.secrets_key.arn)
    pulumi.export("stateKeyArn", backend.state_key.arn)
    pulumi.export("secretsProvider", backend.secrets_provider)
