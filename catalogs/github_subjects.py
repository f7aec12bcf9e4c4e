"""GitHub Actions OIDC token subjects (`sub`). The AWS role trusts and the GCP workload identity provider both
build their subjects here, so the two clouds trust exactly the same strings for the same workflow context."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GithubRepository:
    """The repository whose workflows may use the CI identities. With both numeric ids set, subjects use
    GitHub's immutable form, which survives renames and cannot be claimed by a re-created namesake."""

    org: str
    repo: str
    owner_id: int | None = None
    repository_id: int | None = None

    @property
    def full_name(self) -> str:
        return f"{self.org}/{self.repo}"

    @property
    def subject_prefix(self) -> str:
        if self.owner_id is not None and self.repository_id is not None:
            return f"repo:{self.org}@{self.owner_id}/{self.repo}@{self.repository_id}"
        return f"repo:{self.org}/{self.repo}"


# The GitHub environment pull-request previews run in. It must require reviewers: a preview's credentials read the
# cluster (Secrets included), so no code from a pull request may obtain them before a maintainer approves the run.
PREVIEW_ENVIRONMENT = "pulumi-preview"


def preview_subject(repo: GithubRepository) -> str:
    """`sub` of a pull-request preview job: it declares `environment: pulumi-preview`, so it gets credentials only
    once a required reviewer of that environment approved the run (a job that drops the environment gets the
    `pull_request` subject, which nothing trusts)."""
    return environment_subject(repo, PREVIEW_ENVIRONMENT)


def environment_subject(repo: GithubRepository, environment: str) -> str:
    """`sub` of any job that declares `environment: <environment>`, whatever its trigger or ref (the ref is
    another claim)."""
    return f"{repo.subject_prefix}:environment:{environment}"


def ref_subject(repo: GithubRepository, ref: str) -> str:
    """`sub` of a push, scheduled or dispatched job on `ref` (refs/heads/… or refs/tags/…) that declares no
    `environment:` (scheduled workflows run on the default branch)."""
    return f"{repo.subject_prefix}:ref:{ref}"


def branch_subject(repo: GithubRepository, branch: str) -> str:
    return ref_subject(repo, f"refs/heads/{branch}")
