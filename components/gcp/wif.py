"""Workload Identity Federation for GitHub Actions: one pool and OIDC provider for token.actions.githubusercontent.com,
and the three service accounts workflows of the configured repository may impersonate. No key exists anywhere.

| Service account | Impersonated by (exact GitHub `sub`, plus ref where noted) | Does |
| --- | --- | --- |
| app deploy (`<prefix>-deploy`) | the configured deploy context (environment and/or ref) | SSH over IAP + deploy helper (GpuVm) |
| `<prefix>-pulumi-preview` | `…:pull_request`, `…:ref:refs/heads/<main>` | `pulumi preview [--refresh]`, read-only |
| `<prefix>-pulumi-deploy` | `…:environment:<stack>` on `refs/heads/<main>` | `pulumi up` of the stack |

Who gets in is decided twice. The provider's attribute_condition admits only tokens of the repository (numeric ids
when configured, so a re-created repository with the same name is not trusted) in one of the contexts above.
Each account's workloadIdentityUser bindings then name exact subjects (`principal://…/subject/<sub>`), never
the pool and never the repository's principalSet: with pull-request tokens admitted, a repository-wide binding
would let any branch's workflow impersonate a deploy account.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import pulumi
import pulumi_gcp as gcp

from catalogs.github_subjects import GithubRepository, environment_subject, pull_request_subject, ref_subject

from .pulumi_roles import PROJECT_IAM_ADMIN_ROLE, PULUMI_DEPLOY_ROLES, PULUMI_PREVIEW_ROLES, grant_limit_condition

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


def pulumi_preview_contexts(repo: GithubRepository, main_branch: str) -> list[TokenContext]:
    """Same-repository pull requests, and the scheduled drift check (it runs on the default branch)."""
    return [TokenContext(pull_request_subject(repo)), TokenContext(ref_subject(repo, f"refs/heads/{main_branch}"))]


def pulumi_deploy_contexts(repo: GithubRepository, stack: str, main_branch: str) -> list[TokenContext]:
    """`pulumi up` jobs run in the GitHub environment named like the stack, on pushes to the main branch. The ref
    check is stricter than the AWS trust (which only sees `sub`): it holds even if the environment's deployment
    branch policy is missing."""
    return [TokenContext(environment_subject(repo, stack), f"refs/heads/{main_branch}")]


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


def _cel_string(value: str) -> str:
    if "'" in value or "\\" in value:
        raise ValueError(f"unexpected quote in {value!r}")
    return f"'{value}'"


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
            f"assertion.repository_owner_id == {_cel_string(str(repository.owner_id))} && "
            f"assertion.repository_id == {_cel_string(str(repository.repository_id))}"
        )
    else:
        repo_clause = f"assertion.repository == {_cel_string(repository.full_name)}"
    clauses = []
    for context in admitted:
        clause = f"assertion.sub == {_cel_string(_check_subject(context.subject))}"
        clauses.append(clause if context.ref is None else f"({clause} && assertion.ref == {_cel_string(context.ref)})")
    condition = f"{repo_clause} && ({' || '.join(clauses)})"
    if len(condition) > MAX_CONDITION_CHARS:
        raise ValueError(f"attribute condition is {len(condition)} characters; Google allows {MAX_CONDITION_CHARS}")
    return condition


def subject_principal(pool_name: str, subject: str) -> str:
    """The one federated identity with this `sub` (pool_name: projects/NUM/locations/global/workloadIdentityPools/ID)."""
    return f"principal://iam.googleapis.com/{pool_name}/subject/{_check_subject(subject)}"


@dataclass(frozen=True)
class GithubDeployIdentityArgs:
    project: str
    pool_id: str
    deploy_account_id: str
    repository: GithubRepository
    # App deploys (SSH over IAP): the ref and/or GitHub environment their jobs run in.
    ref: str | None
    environment: str | None
    # The Pulumi stack; also the GitHub environment whose jobs run `pulumi up`.
    stack: str
    main_branch: str
    pulumi_preview_account_id: str
    pulumi_deploy_account_id: str
    # Every role the stack grants on the project: all `pulumi up` from CI may grant or revoke there.
    grantable_project_roles: Sequence[str]
    provider_id: str = "github-actions"
    # A deleted pool or provider id stays reserved for 30 days: protect them in production.
    protect: bool = False


class GithubDeployIdentity(pulumi.ComponentResource):
    provider_name: pulumi.Output[str]
    service_account_email: pulumi.Output[str]
    service_account_member: pulumi.Output[str]
    service_account_unique_id: pulumi.Output[str]
    pulumi_preview_service_account_email: pulumi.Output[str]
    pulumi_deploy_service_account_email: pulumi.Output[str]

    def __init__(self, name: str, args: GithubDeployIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:gcp:GithubDeployIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=args.protect)
        repo = args.repository
        app_contexts = app_deploy_contexts(repo, ref=args.ref, environment=args.environment)
        preview_contexts = pulumi_preview_contexts(repo, args.main_branch)
        deploy_contexts = pulumi_deploy_contexts(repo, args.stack, args.main_branch)
        pool = gcp.iam.WorkloadIdentityPool(
            f"{name}-pool",
            project=args.project,
            workload_identity_pool_id=args.pool_id,
            display_name="GitHub Actions",
            description=f"GitHub Actions of {repo.full_name} (managed by Pulumi)",
            opts=kept,
        )
        provider = gcp.iam.WorkloadIdentityPoolProvider(
            f"{name}-provider",
            project=args.project,
            workload_identity_pool_id=pool.workload_identity_pool_id,
            workload_identity_pool_provider_id=args.provider_id,
            display_name="GitHub Actions OIDC",
            description=f"Tokens of {repo.full_name} for previews and deploys",
            attribute_mapping=attribute_mapping(),
            attribute_condition=attribute_condition(repo, [*preview_contexts, *deploy_contexts, *app_contexts]),
            # No allowed_audiences: google-github-actions/auth requests the provider's own resource name, the default.
            oidc=gcp.iam.WorkloadIdentityPoolProviderOidcArgs(issuer_uri=GITHUB_ISSUER),
            opts=kept,
        )

        def account(suffix: str, account_id: str, display_name: str, description: str) -> gcp.serviceaccount.Account:
            return gcp.serviceaccount.Account(
                f"{name}-{suffix}",
                project=args.project,
                account_id=account_id,
                display_name=display_name,
                description=description,
                opts=child,
            )

        def impersonated_by(suffix: str, sa: gcp.serviceaccount.Account, contexts: Sequence[TokenContext]) -> None:
            subjects = list(dict.fromkeys(c.subject for c in contexts))
            for i, subject in enumerate(subjects):
                gcp.serviceaccount.IAMMember(
                    f"{name}-{suffix}" if len(subjects) == 1 else f"{name}-{suffix}-{i}",
                    service_account_id=sa.name,
                    role=WORKLOAD_IDENTITY_USER_ROLE,
                    member=pool.name.apply(partial(subject_principal, subject=subject)),
                    opts=child,
                )

        app = account(
            "sa",
            args.deploy_account_id,
            "ai-serving deploys from GitHub Actions",
            f"Impersonated by {repo.full_name} deploy workflows through workload identity federation; no keys.",
        )
        impersonated_by("wif-user", app, app_contexts)

        preview = account(
            "pulumi-preview-sa",
            args.pulumi_preview_account_id,
            f"pulumi preview of {args.stack} (read-only)",
            f"Pull requests and the drift check of {repo.full_name}; read-only; no keys.",
        )
        impersonated_by("pulumi-preview-wif-user", preview, preview_contexts)
        deploy = account(
            "pulumi-deploy-sa",
            args.pulumi_deploy_account_id,
            f"pulumi up of {args.stack}",
            f"Jobs in the GitHub environment {args.stack} of {repo.full_name} on {args.main_branch}; no keys.",
        )
        impersonated_by("pulumi-deploy-wif-user", deploy, deploy_contexts)

        def project_role(
            suffix: str, sa: gcp.serviceaccount.Account, role: str, condition: gcp.projects.IAMMemberConditionArgs | None = None
        ) -> None:
            gcp.projects.IAMMember(
                f"{name}-{suffix}-{role.split('/')[-1].replace('.', '-')}",
                project=args.project,
                role=role,
                member=sa.member,
                condition=condition,
                opts=child,
            )

        for role in PULUMI_PREVIEW_ROLES:
            project_role("pulumi-preview", preview, role)
        for role in PULUMI_DEPLOY_ROLES:
            project_role("pulumi-deploy", deploy, role)
        project_role(
            "pulumi-deploy",
            deploy,
            PROJECT_IAM_ADMIN_ROLE,
            gcp.projects.IAMMemberConditionArgs(
                title="stack-roles-only",
                description="May grant and revoke only the roles this stack grants on the project.",
                expression=grant_limit_condition(args.grantable_project_roles),
            ),
        )

        self.provider_name = provider.name
        self.service_account_email = app.email
        self.service_account_member = app.member
        self.service_account_unique_id = app.unique_id
        self.pulumi_preview_service_account_email = preview.email
        self.pulumi_deploy_service_account_email = deploy.email
        self.register_outputs(
            {
                "providerName": self.provider_name,
                "serviceAccountEmail": self.service_account_email,
                "pulumiPreviewServiceAccountEmail": self.pulumi_preview_service_account_email,
                "pulumiDeployServiceAccountEmail": self.pulumi_deploy_service_account_email,
            }
        )
