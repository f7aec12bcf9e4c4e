"""Validated bootstrap config (+ the account the program runs in) -> the StateBackend component's Args."""

from __future__ import annotations

from components.aws.state_backend import StateBackendArgs

from .config import BootstrapConfig


def state_backend_args(cfg: BootstrapConfig, *, partition: str, region: str, account_id: str) -> StateBackendArgs:
    return StateBackendArgs(
        state_bucket_name=cfg.state_bucket_name,
        log_bucket_name=cfg.access_log_bucket,
        secrets_key_alias=cfg.secrets_key_alias,
        state_key_alias=cfg.state_key_alias,
        noncurrent_version_retention_days=cfg.noncurrent_version_retention_days,
        access_log_retention_days=cfg.access_log_retention_days,
        admin_principal_arns=tuple(cfg.admin_principal_arns),
        partition=partition,
        region=region,
        account_id=account_id,
        tags={"project": "ai-serving", "purpose": "pulumi-state-backend"},
    )
