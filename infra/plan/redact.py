"""Secret handling for everything the plan writes: a secret value never leaves as plain text."""

from __future__ import annotations

from typing import Any

from infra.pulumi_sdk import is_secret, unwrap_secret

SECRET_PLACEHOLDER = "[secret]"


def redact(value: Any) -> Any:
    """Replace every secret value with "[secret]", keeping the shape of maps and lists around it.

    The engine pushes secretness up to the enclosing map or list; keeping the keys (not their values) leaves a
    Kubernetes Secret's `stringData` a valid map in the rendered manifest.
    """
    if is_secret(value):
        return _redact_all(unwrap_secret(value))
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _redact_all(value: Any) -> Any:
    if is_secret(value):
        return _redact_all(unwrap_secret(value))
    if isinstance(value, dict):
        return {k: _redact_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_all(v) for v in value]
    return SECRET_PLACEHOLDER


def normalize_numbers(value: Any) -> Any:
    """The engine sends every number as a float; give whole numbers back their integer form."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: normalize_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_numbers(v) for v in value]
    return value
