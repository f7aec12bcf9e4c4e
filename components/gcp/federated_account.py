"""A service account that GitHub workflows impersonate through the workload identity pool: the account, and one
workloadIdentityUser binding per exact subject of the contexts it trusts (wif.py decides who; this registers it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import pulumi
import pulumi_gcp as gcp

from .wif import WORKLOAD_IDENTITY_USER_ROLE, TokenContext, subject_principal


@dataclass(frozen=True)
class FederatedAccountSpec:
    """Logical names (`account_name`; `binding_name`, numbered when there are several subjects) and the account."""

    account_name: str
    binding_name: str
    account_id: str
    display_name: str
    description: str


def binding_names(binding_name: str, subjects: Sequence[str]) -> list[str]:
    """One logical name per subject: the plain name for a single subject, numbered otherwise."""
    return [binding_name] if len(subjects) == 1 else [f"{binding_name}-{i}" for i in range(len(subjects))]


def create_federated_account(
    spec: FederatedAccountSpec,
    *,
    project: str,
    pool_name: pulumi.Input[str],
    contexts: Sequence[TokenContext],
    child_options: Callable[[str], pulumi.ResourceOptions],
) -> gcp.serviceaccount.Account:
    """The account, impersonable by the subjects of `contexts` only (the provider checks their refs).
    `child_options` gives the options of the resource with a logical name: the calling component as its parent, and
    any alias it needs."""
    account = gcp.serviceaccount.Account(
        spec.account_name,
        project=project,
        account_id=spec.account_id,
        display_name=spec.display_name,
        description=spec.description,
        opts=child_options(spec.account_name),
    )
    subjects = list(dict.fromkeys(c.subject for c in contexts))
    for name, subject in zip(binding_names(spec.binding_name, subjects), subjects, strict=True):
        gcp.serviceaccount.IAMMember(
            name,
            service_account_id=account.name,
            role=WORKLOAD_IDENTITY_USER_ROLE,
            member=pulumi.Output.from_input(pool_name).apply(partial(subject_principal, subject=subject)),
            opts=child_options(name),
        )
    return account
