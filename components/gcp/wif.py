"""Workload Identity Federation for GitHub Actions: a pool, an OIDC provider for token.actions.githubusercontent.com
and the deploy service account a workflow of the configured repository may impersonate. No key exists anywhere.

Who gets in is decided twice: the provider's attribute_condition rejects every token that is not from the
repository (numeric ids when configured, so a re-created repository with the same name is not trusted) and the
deploy ref or environment; the service account's workloadIdentityUser binding names the repository's
principalSet, never the whole pool. What the deploy identity may do on the VMs is granted by GpuVm.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


@dataclass(frozen=True)
class GithubRepository:
    org: str
    repo: str
    owner_id: int | None = None
    repository_id: int | None = None

    @property
    def full_name(self) -> str:
        return f"{self.org}/{self.repo}"


def attribute_mapping() -> dict[str, str]:
    """GitHub token claims as Google attributes: the condition and the principalSet work on these."""
    return {
        "google.subject": "assertion.sub",
        "attribute.repository": "assertion.repository",
        "attribute.repository_owner_id": "assertion.repository_owner_id",
        "attribute.repository_id": "assertion.repository_id",
        "attribute.ref": "assertion.ref",
        "attribute.environment": "assertion.environment",
    }


def _cel_string(value: str) -> str:
    if "'" in value or "\\" in value:
        raise ValueError(f"unexpected quote in {value!r}")
    return f"'{value}'"


def attribute_condition(repository: GithubRepository, *, ref: str | None, environment: str | None) -> str:
    """CEL the provider evaluates on every token: this repository, and the deploy ref and/or environment.

    With neither ref nor environment the caller must pass the default ref; a condition on the repository alone
    would let any branch or pull request workflow deploy.
    """
    if ref is None and environment is None:
        raise ValueError("a deploy ref or a GitHub environment is required")
    if repository.owner_id is not None and repository.repository_id is not None:
        repo_clause = (
            f"assertion.repository_owner_id == {_cel_string(str(repository.owner_id))} && "
            f"assertion.repository_id == {_cel_string(str(repository.repository_id))}"
        )
    else:
        repo_clause = f"assertion.repository == {_cel_string(repository.full_name)}"
    clauses = [repo_clause]
    if ref is not None:
        clauses.append(f"assertion.ref == {_cel_string(ref)}")
    if environment is not None:
        clauses.append(f"assertion.environment == {_cel_string(environment)}")
    return " && ".join(clauses)


def repository_principal_set(pool_name: str, repository: GithubRepository) -> str:
    """Every identity of the pool whose token came from this repository (pool_name: projects/NUM/locations/...)."""
    return f"principalSet://iam.googleapis.com/{pool_name}/attribute.repository/{repository.full_name}"


@dataclass(frozen=True)
class GithubDeployIdentityArgs:
    project: str
    pool_id: str
    deploy_account_id: str
    repository: GithubRepository
    ref: str | None
    environment: str | None
    provider_id: str = "github-actions"
    # A deleted pool or provider id stays reserved for 30 days: protect them in production.
    protect: bool = False


class GithubDeployIdentity(pulumi.ComponentResource):
    provider_name: pulumi.Output[str]
    service_account_email: pulumi.Output[str]
    service_account_member: pulumi.Output[str]
    service_account_unique_id: pulumi.Output[str]

    def __init__(self, name: str, args: GithubDeployIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:gcp:GithubDeployIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=args.protect)
        repo = args.repository
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
            description=f"Tokens of {repo.full_name} for deploys",
            attribute_mapping=attribute_mapping(),
            attribute_condition=attribute_condition(repo, ref=args.ref, environment=args.environment),
            # No allowed_audiences: google-github-actions/auth requests the provider's own resource name, the default.
            oidc=gcp.iam.WorkloadIdentityPoolProviderOidcArgs(issuer_uri=GITHUB_ISSUER),
            opts=kept,
        )
        account = gcp.serviceaccount.Account(
            f"{name}-sa",
            project=args.project,
            account_id=args.deploy_account_id,
            display_name="ai-serving deploys from GitHub Actions",
            description=f"Impersonated by {repo.full_name} workflows through workload identity federation; no keys.",
            opts=child,
        )
        gcp.serviceaccount.IAMMember(
            f"{name}-wif-user",
            service_account_id=account.name,
            role="roles/iam.workloadIdentityUser",
            member=pool.name.apply(lambda pool_name: repository_principal_set(pool_name, repo)),
            opts=child,
        )
        self.provider_name = provider.name
        self.service_account_email = account.email
        self.service_account_member = account.member
        self.service_account_unique_id = account.unique_id
        self.register_outputs({"providerName": self.provider_name, "serviceAccountEmail": self.service_account_email})
