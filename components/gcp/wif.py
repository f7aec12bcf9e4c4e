"""Workload Identity Federation for GitHub Actions: which tokens the pool's provider admits and which federated
identity each binding names. Pure decisions; github_workload_identity.py and pulumi_ci_identity.py register them.

| Service account | Impersonated by (exact GitHub `sub`, plus ref where noted) | Does |
| --- | --- | --- |
| app deploy (`<prefix>-deploy`) | the configured deploy context (environment and/or ref) | SSH over IAP + deploy helper (GpuVm) |
| `<prefix>-pulumi-preview` | `…:environment:pulumi-preview`, `…:ref:refs/heads/<main>` | `pulumi preview [--refresh]`, read-only |
| `<prefix>-pulumi-deploy` | `…:environment:<stack>` on `refs/heads/<main>` | `pulumi up` of the stack |

Who gets in is decided twice. The provider's attribute_condition admits only tokens of the repository (numeric ids
when configured, so a re-created repository with the same name is not trusted) in one of the contexts above.
Each account's workloadIdentityUser bindings then name exact subjects (`principal://…/subject/<sub>`), never
the pool and never the repository's principalSet: with pull-request tokens admitted, a repository-wide binding
would let any branch's workflow impersonate a deploy account. The Pulumi accounts' contexts are decided in
pulumi_ci_identity.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from catalogs.github_subjects import GithubRepository, environment_subject, ref_subject

from .cel import cel_string_literal

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
WORKLOAD_IDENTITY_USER_ROLE = "roles/iam.workloadIdentityUser"
# Google rejects tokens whose mapped google.subject is longer, and caps the attribute condition.
MAX_SUBJECT_BYTES = 127
MAX_CONDITION_CHARS = 4096


@dataclass(frozen=True)
class TokenContext:
    """A workflow context the provider admits: the token's exact `sub`, and the `ref` it must carry if set."""

    subject: str
    ref: str | None = None


def app_deploy_contexts(repo: GithubRepository, *, ref: str | None, environment: str | None) -> list[TokenContext]:
    """The configured app deploy: jobs in `environment` (on `ref` when both are set), else jobs on `ref`."""
    if environment is not None:
        return [TokenContext(environment_subject(repo, environment), ref)]
    if ref is None:
        raise ValueError("a deploy ref or a GitHub environment is required")
    return [TokenContext(ref_subject(repo, ref))]


def attribute_mapping() -> dict[str, str]:
    """GitHub token claims as Google attributes. `environment` is absent from tokens of jobs without one, and an
    unguarded reference to a missing claim fails the exchange, hence the has() guard."""
    return {
        "google.subject": "assertion.sub",
        "attribute.repository": "assertion.repository",
        "attribute.repository_owner_id": "assertion.repository_owner_id",
        "attribute.repository_id": "assertion.repository_id",
        "attribute.ref": "assertion.ref",
        "attribute.environment": "has(assertion.environment) ? assertion.environment : ''",
    }


def _check_subject(subject: str) -> str:
    if len(subject.encode()) > MAX_SUBJECT_BYTES:
        raise ValueError(f"GitHub subject {subject!r} exceeds Google's {MAX_SUBJECT_BYTES}-byte google.subject limit")
    if "*" in subject:
        raise ValueError(f"GitHub subject {subject!r} contains a wildcard; bindings name exact subjects")
    return subject


def distinct_contexts(contexts: Sequence[TokenContext]) -> list[TokenContext]:
    """In order, without repeats; a context that also requires a ref is dropped when the same subject is admitted
    on any ref."""
    any_ref = {c.subject for c in contexts if c.ref is None}
    kept = [c for c in contexts if c.ref is None or c.subject not in any_ref]
    return list(dict.fromkeys(kept))


def attribute_condition(repository: GithubRepository, contexts: Sequence[TokenContext]) -> str:
    """CEL the provider evaluates on every token: this repository, in one of the given contexts.

    The subject comparison stands for the environment too (GitHub writes it into `sub`), so the condition never
    reads the optional `environment` claim. A condition on the repository alone would admit every workflow.
    """
    admitted = distinct_contexts(contexts)
    if not admitted:
        raise ValueError("at least one workflow context is required; a condition on the repository alone admits every workflow")
    if repository.owner_id is not None and repository.repository_id is not None:
        repo_clause = (
            f"assertion.repository_owner_id == {cel_string_literal(str(repository.owner_id))} && "
            f"assertion.repository_id == {cel_string_literal(str(repository.repository_id))}"
        )
    else:
        repo_clause = f"assertion.repository == {cel_string_literal(repository.full_name)}"
    clauses = []
    for context in admitted:
        clause = f"assertion.sub == {cel_string_literal(_check_subject(context.subject))}"
        clauses.append(clause if context.ref is None else f"({clause} && assertion.ref == {cel_string_literal(context.ref)})")
    condition = f"{repo_clause} && ({' || '.join(clauses)})"
    if len(condition) > MAX_CONDITION_CHARS:
        raise ValueError(f"attribute condition is {len(condition)} characters; Google allows {MAX_CONDITION_CHARS}")
    return condition


def subject_principal(pool_name: str, subject: str) -> str:
    """The one federated identity with this `sub` (pool_name: projects/NUM/locations/global/workloadIdentityPools/ID)."""
    return f"principal://iam.googleapis.com/{pool_name}/subject/{_check_subject(subject)}"
