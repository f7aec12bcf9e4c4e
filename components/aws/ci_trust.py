"""Who may assume the CI roles: the GitHub Actions OIDC trust policy, the workflow subjects each role trusts, and
the roles' fixed names."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from catalogs.github_subjects import GithubRepository, branch_subject, environment_subject, preview_subject

from .iam_documents import STS_AUDIENCE, PolicyDocument, has_iam_wildcard

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"

_IAM_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")


def preview_subjects(repo: GithubRepository, main_branch: str) -> list[str]:
    """The read-only role serves reviewed pull-request previews (environment pulumi-preview) and the scheduled drift
    check on main (which runs on the default branch without an environment). Never `pull_request`: any branch's
    workflow file could then obtain it."""
    return [preview_subject(repo), branch_subject(repo, main_branch)]


def deploy_subjects(repo: GithubRepository, stack: str) -> list[str]:
    """`pulumi up` runs only in jobs of the GitHub environment named after the stack (reviewers, branch policy)."""
    return [environment_subject(repo, stack)]


def image_push_subjects(repo: GithubRepository, main_branch: str) -> list[str]:
    """Images are pushed from the reviewed main branch only."""
    return [branch_subject(repo, main_branch)]


def github_trust_policy(provider_arn: str, subjects: str | Sequence[str]) -> PolicyDocument:
    """Trust exact workflow contexts: audience and subject(s) pinned with StringEquals.

    No StringLike and no wildcard: a `sub` pattern would let any branch, environment or PR of the repository
    (or of the whole org) assume the role. Several subjects are listed verbatim (StringEquals matches any one
    of them exactly). No ForAllValues: it is true when the claim is absent.
    """
    listed = [subjects] if isinstance(subjects, str) else list(subjects)
    if not listed or len(set(listed)) != len(listed):
        raise ValueError(f"trust policies need one or more distinct subjects, got {listed!r}")
    for subject in listed:
        if has_iam_wildcard(subject):
            raise ValueError(f"GitHub subject {subject!r} contains a wildcard; trust policies pin exact subjects")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GithubActionsOidc",
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": listed[0] if len(listed) == 1 else listed,
                    }
                },
            }
        ],
    }


@dataclass(frozen=True)
class CiRoleNames:
    preview: str
    deploy: str
    image_push: str

    def all(self) -> list[str]:
        return [self.preview, self.deploy, self.image_push]


def ci_role_names(name_prefix: str) -> CiRoleNames:
    """Fixed, stack-scoped names, so workflows can build the ARNs (`arn:aws:iam::<account>:role/<name>`)."""
    names = CiRoleNames(f"{name_prefix}preview", f"{name_prefix}deploy", f"{name_prefix}image-push")
    for name in names.all():
        if not _IAM_NAME.match(name):
            raise ValueError(f"IAM role name {name!r} is invalid (at most 64 characters of [A-Za-z0-9+=,.@_-]); use a shorter stack name")
    return names
