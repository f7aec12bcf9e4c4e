"""`GithubWorkloadIdentity`: the workload identity pool and GitHub OIDC provider of the stack's GCP project, and the
app deploy account (SSH over IAP to the GPU VMs, granted by GpuVm) that GitHub Actions of the repository obtain
through it, for the configured deploy context. No key exists anywhere.

Other accounts federate through the same pool (PulumiCiIdentity, pulumi_ci_identity.py): one provider serves them
all, so its condition admits the union of their contexts (wif.py), which the caller passes in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from catalogs.github_subjects import GithubRepository

from .federated_account import FederatedAccountSpec, create_federated_account
from .wif import GITHUB_ISSUER, TokenContext, app_deploy_contexts, attribute_condition, attribute_mapping

TYPE_TOKEN = "ai-serving:gcp:GithubWorkloadIdentity"
# The type until the Pulumi CI accounts moved out into PulumiCiIdentity (issue 8). The alias lets a stack created
# under the old type keep this component and its children (their aliases derive from it) instead of replacing them.
FORMER_TYPE_TOKEN = "ai-serving:gcp:GithubDeployIdentity"


@dataclass(frozen=True)
class GithubWorkloadIdentityArgs:
    project: str
    pool_id: str
    repository: GithubRepository
    app_deploy_account_id: str
    # App deploys (SSH over IAP): the ref and/or GitHub environment their jobs run in.
    app_deploy_ref: str | None
    app_deploy_environment: str | None
    # The contexts of the other accounts federated through this pool (the Pulumi CI accounts): the provider admits
    # them as well as the app deploy's.
    other_account_contexts: Sequence[TokenContext]
    provider_id: str = "github-actions"
    # A deleted pool or provider id stays reserved for 30 days: protect them in production.
    protect: bool = False


class GithubWorkloadIdentity(pulumi.ComponentResource):
    # The pool's full resource name (projects/NUM/locations/global/workloadIdentityPools/ID), which federated
    # principals are named under.
    pool_name: pulumi.Output[str]
    provider_name: pulumi.Output[str]
    app_deploy_email: pulumi.Output[str]
    app_deploy_member: pulumi.Output[str]
    app_deploy_unique_id: pulumi.Output[str]

    def __init__(self, name: str, args: GithubWorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        renamed = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=FORMER_TYPE_TOKEN)])
        super().__init__(TYPE_TOKEN, name, None, pulumi.ResourceOptions.merge(opts, renamed))
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
            attribute_condition=attribute_condition(repo, [*args.other_account_contexts, *app_contexts]),
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
            child_options=lambda _name: pulumi.ResourceOptions(parent=self),
        )

        self.pool_name = pool.name
        self.provider_name = provider.name
        self.app_deploy_email = app.email
        self.app_deploy_member = app.member
        self.app_deploy_unique_id = app.unique_id
        self.register_outputs(
            {"poolName": self.pool_name, "providerName": self.provider_name, "serviceAccountEmail": self.app_deploy_email}
        )
