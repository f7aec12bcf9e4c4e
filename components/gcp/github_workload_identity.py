"""`GithubWorkloadIdentity`: the workload identity pool and GitHub OIDC provider of the stack's GCP project, and
the service accounts GitHub Actions of the repository obtain through it (no key exists anywhere):

- the app deploy account (SSH over IAP to the GPU VMs, granted by GpuVm), for the configured deploy context;
- the two Pulumi CI accounts (pulumi_ci_identity.py).

One provider serves all three: its condition admits the union of their contexts (wif.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from catalogs.github_subjects import GithubRepository

from .federated_account import FederatedAccountSpec, create_federated_account
from .pulumi_ci_identity import PulumiCiIdentityArgs, create_pulumi_ci_identities, pulumi_ci_contexts
from .wif import GITHUB_ISSUER, app_deploy_contexts, attribute_condition, attribute_mapping

# The type token predates the Pulumi CI accounts; it stays, since renaming it would replace every child (URNs).
TYPE_TOKEN = "ai-serving:gcp:GithubDeployIdentity"


@dataclass(frozen=True)
class GithubWorkloadIdentityArgs:
    project: str
    pool_id: str
    repository: GithubRepository
    app_deploy_account_id: str
    # App deploys (SSH over IAP): the ref and/or GitHub environment their jobs run in.
    app_deploy_ref: str | None
    app_deploy_environment: str | None
    pulumi_ci: PulumiCiIdentityArgs
    provider_id: str = "github-actions"
    # A deleted pool or provider id stays reserved for 30 days: protect them in production.
    protect: bool = False


class GithubWorkloadIdentity(pulumi.ComponentResource):
    provider_name: pulumi.Output[str]
    app_deploy_email: pulumi.Output[str]
    app_deploy_member: pulumi.Output[str]
    app_deploy_unique_id: pulumi.Output[str]
    pulumi_preview_email: pulumi.Output[str]
    pulumi_deploy_email: pulumi.Output[str]

    def __init__(self, name: str, args: GithubWorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        kept = pulumi.ResourceOptions(parent=self, protect=args.protect)
        repo = args.repository
        app_contexts = app_deploy_contexts(repo, ref=args.app_deploy_ref, environment=args.app_deploy_environment)
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
            attribute_condition=attribute_condition(repo, [*pulumi_ci_contexts(repo, args.pulumi_ci), *app_contexts]),
            # No allowed_audiences: google-github-actions/auth requests the provider's own resource name, the default.
            oidc=gcp.iam.WorkloadIdentityPoolProviderOidcArgs(issuer_uri=GITHUB_ISSUER),
            opts=kept,
        )
        app = create_federated_account(
            FederatedAccountSpec(
                account_name=f"{name}-sa",
                binding_name=f"{name}-wif-user",
                account_id=args.app_deploy_account_id,
                display_name="ai-serving deploys from GitHub Actions",
                description=f"Impersonated by {repo.full_name} deploy workflows through workload identity federation; no keys.",
            ),
            project=args.project,
            pool_name=pool.name,
            contexts=app_contexts,
            parent=self,
        )
        pulumi_ci = create_pulumi_ci_identities(
            name, args.pulumi_ci, project=args.project, repository=repo, pool_name=pool.name, parent=self
        )

        self.provider_name = provider.name
        self.app_deploy_email = app.email
        self.app_deploy_member = app.member
        self.app_deploy_unique_id = app.unique_id
        self.pulumi_preview_email = pulumi_ci.preview.email
        self.pulumi_deploy_email = pulumi_ci.deploy.email
        self.register_outputs(
            {
                "providerName": self.provider_name,
                "serviceAccountEmail": self.app_deploy_email,
                "pulumiPreviewServiceAccountEmail": self.pulumi_preview_email,
                "pulumiDeployServiceAccountEmail": self.pulumi_deploy_email,
            }
        )
