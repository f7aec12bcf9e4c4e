"""GitHub Actions' identity in AWS: the account's OIDC provider and three stack-scoped roles (preview, deploy,
image push). Each role trusts exact workflow contexts of one repository (ci_trust.py) and holds only its own
permissions (ci_preview_policy.py, ci_deploy_policy.py, ci_image_push_policy.py). No long-lived keys anywhere."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalogs.github_subjects import GithubRepository
from catalogs.image_registries import UPSTREAMS

from .ci_boundary_policy import boundary_policy_arn, boundary_policy_name, permissions_boundary
from .ci_deploy_edge import EdgeDeployScope
from .ci_deploy_network import network_deploy_policy, network_policy_arn, network_policy_name
from .ci_deploy_policy import DeployScope, deploy_policy
from .ci_image_push_policy import image_push_policy
from .ci_preview_policy import READ_ONLY_ACCESS_ARN, cache_credentials_read_policy, preview_inline_policy
from .ci_state_access import StateBackend
from .ci_trust import GITHUB_OIDC_URL, ci_role_names, deploy_subjects, github_trust_policy, image_push_subjects, preview_subjects
from .iam_documents import STS_AUDIENCE
from .stack_names import STACK_TAG_KEY, ecr_repository_arn

# AWS allows 1-12 h. Previews and pushes finish well within the hour; `pulumi up` of a cluster with GPU node
# groups and Helm releases can take longer, and an expired session mid-update leaves pending operations.
PREVIEW_SESSION_SECONDS = 3600
DEPLOY_SESSION_SECONDS = 2 * 3600
PUSH_SESSION_SECONDS = 3600


@dataclass(frozen=True)
class ExistingGithubProvider:
    """The account's token.actions.githubusercontent.com provider, referenced by its ARN (the usual case)."""

    arn: str


@dataclass(frozen=True)
class NewGithubProvider:
    """Create the account's provider in this stack: only where the account has none (there is one per account and
    URL; a second fails with EntityAlreadyExists)."""


@dataclass(frozen=True)
class GithubCiIdentityArgs:
    repository: GithubRepository
    main_branch: str
    github_provider: ExistingGithubProvider | NewGithubProvider
    # The Pulumi stack; also the GitHub environment whose jobs may deploy it.
    stack: str
    # Stack-scoped prefix of the role names (stack_names.stack_name_prefix).
    name_prefix: str
    region: str
    cluster_name: str
    image_repository_name: str
    # Names of every IAM role/policy/instance profile/KMS alias the stack creates start with one of these.
    deploy_name_prefixes: Sequence[str]
    state_backend: StateBackend | None
    # Production: protect the OIDC provider from deletion.
    protect: bool
    # The serving edge's AWS resources the deploy role manages (None: no edge).
    edge: EdgeDeployScope | None = None
    # The stack's AWS Budgets budget the deploy role manages (None: no budget).
    budget_name: str | None = None
    # ECR pull-through cache upstreams the deploy role manages rules, templates and credentials of.
    pull_through_upstreams: Sequence[str] = ()
    # The stack has a model-weights bucket (serving.stageWeights).
    model_weights_bucket: bool = False


def deploy_scope(args: GithubCiIdentityArgs, account_id: str, github_provider_arn: str) -> DeployScope:
    """What this stack's deploy role may touch, once the account and the GitHub provider's ARN are known."""
    return DeployScope(
        account_id=account_id,
        region=args.region,
        cluster_name=args.cluster_name,
        repository_name=args.image_repository_name,
        name_prefixes=tuple(args.deploy_name_prefixes),
        ci_role_names=ci_role_names(args.name_prefix),
        github_provider_arn=github_provider_arn,
        boundary_arn=boundary_policy_arn(account_id, args.name_prefix),
        network_policy_arn=network_policy_arn(account_id, args.name_prefix),
        state_backend=args.state_backend,
        edge=args.edge,
        budget_name=args.budget_name,
        pull_through_upstreams=tuple(args.pull_through_upstreams),
        model_weights_bucket=args.model_weights_bucket,
    )


class GithubCiIdentity(pulumi.ComponentResource):
    """The roles GitHub Actions workflows assume for this stack, and the account's GitHub OIDC provider they trust."""

    provider_arn: pulumi.Output[str]
    preview_role_arn: pulumi.Output[str]
    deploy_role_arn: pulumi.Output[str]
    image_push_role_arn: pulumi.Output[str]
    # Every role the rest of the stack creates carries it (the deploy role can create no other kind).
    permissions_boundary_arn: pulumi.Output[str]

    def __init__(self, name: str, args: GithubCiIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:aws:GithubCiIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {STACK_TAG_KEY: args.stack}
        names = ci_role_names(args.name_prefix)
        provider_arn = self._github_provider_arn(name, args, tags)
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id

        def role(suffix: str, role_name: str, subjects: list[str], session_seconds: int, description: str) -> aws.iam.Role:
            return aws.iam.Role(
                f"{name}-{suffix}",
                name=role_name,
                description=description,
                assume_role_policy=provider_arn.apply(lambda arn: json.dumps(github_trust_policy(arn, subjects))),
                max_session_duration=session_seconds,
                tags=tags,
                opts=child,
            )

        # The CI roles themselves carry no boundary: an administrator creates them (the deploy role may not touch
        # them, ProtectCiIdentity) and the deploy role's own policy is the ceiling that matters; a boundary on it
        # would have to allow everything the stack's roles are allowed and more (IAM), so it would bound nothing.
        boundary = aws.iam.Policy(
            f"{name}-boundary",
            name=boundary_policy_name(args.name_prefix),
            description=f"Permissions boundary of every role stack {args.stack} creates",
            policy=json.dumps(permissions_boundary(), sort_keys=True),
            tags=tags,
            opts=child,
        )
        repo = args.repository
        preview = role(
            "preview",
            names.preview,
            preview_subjects(repo, args.main_branch),
            PREVIEW_SESSION_SECONDS,
            f"pulumi preview of {args.stack} from reviewed pull requests (environment pulumi-preview) and the drift check of {repo.full_name} (read-only)",
        )
        deploy = role(
            "deploy",
            names.deploy,
            deploy_subjects(repo, args.stack),
            DEPLOY_SESSION_SECONDS,
            f"pulumi up of {args.stack} from the GitHub environment {args.stack} of {repo.full_name}",
        )
        push = role(
            "image-push",
            names.image_push,
            image_push_subjects(repo, args.main_branch),
            PUSH_SESSION_SECONDS,
            f"push the serving image to {args.image_repository_name} from {args.main_branch} of {repo.full_name}",
        )

        # Preview and deploy both refresh, which reads every resource type the program manages.
        for suffix, r in (("preview", preview), ("deploy", deploy)):
            aws.iam.RolePolicyAttachment(f"{name}-{suffix}-read-only", role=r.name, policy_arn=READ_ONLY_ACCESS_ARN, opts=child)
        preview_state_policy = preview_inline_policy(args.state_backend)
        if preview_state_policy is not None:
            aws.iam.RolePolicy(
                f"{name}-preview-state", name="pulumi-state-read", role=preview.name, policy=json.dumps(preview_state_policy), opts=child
            )
        if any(UPSTREAMS[u].needs_credentials for u in args.pull_through_upstreams):
            aws.iam.RolePolicy(
                f"{name}-preview-cache-credentials",
                name="pull-through-credentials-read",
                role=preview.name,
                policy=account_id.apply(lambda acct: json.dumps(cache_credentials_read_policy(args.region, acct, args.name_prefix))),
                opts=child,
            )
        aws.iam.RolePolicy(
            f"{name}-deploy",
            name="pulumi-up",
            role=deploy.name,
            policy=pulumi.Output.all(account_id, provider_arn).apply(
                lambda v: json.dumps(deploy_policy(deploy_scope(args, v[0], v[1])), separators=(",", ":"))
            ),
            opts=child,
        )
        # EC2, tied to the stack's cluster tag; a managed policy because the inline one has no room left.
        network = aws.iam.Policy(
            f"{name}-deploy-network",
            name=network_policy_name(args.name_prefix),
            description=f"EC2 of pulumi up of {args.stack}: only resources tagged with its cluster",
            policy=account_id.apply(
                lambda acct: json.dumps(
                    network_deploy_policy(account_id=acct, region=args.region, cluster_name=args.cluster_name), separators=(",", ":")
                )
            ),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(f"{name}-deploy-network", role=deploy.name, policy_arn=network.arn, opts=child)
        aws.iam.RolePolicy(
            f"{name}-image-push",
            name="ecr-push",
            role=push.name,
            policy=account_id.apply(
                lambda acct: json.dumps(image_push_policy(ecr_repository_arn(args.region, acct, args.image_repository_name)))
            ),
            opts=child,
        )

        self.provider_arn = provider_arn
        self.preview_role_arn = preview.arn
        self.deploy_role_arn = deploy.arn
        self.image_push_role_arn = push.arn
        self.permissions_boundary_arn = boundary.arn
        self.register_outputs(
            {
                "providerArn": self.provider_arn,
                "previewRoleArn": self.preview_role_arn,
                "deployRoleArn": self.deploy_role_arn,
                "imagePushRoleArn": self.image_push_role_arn,
                "permissionsBoundaryArn": self.permissions_boundary_arn,
            }
        )

    def _github_provider_arn(self, name: str, args: GithubCiIdentityArgs, tags: dict[str, str]) -> pulumi.Output[str]:
        """The account's GitHub OIDC provider: the referenced one, or one created here."""
        if isinstance(args.github_provider, ExistingGithubProvider):
            # One provider per account and URL: a second stack in the account references it, never re-creates it.
            return pulumi.Output.from_input(args.github_provider.arn)
        # No thumbprint_lists: pulumi-aws 7 makes it optional, and for GitHub IAM validates the issuer's
        # certificate against its own trusted CAs and ignores configured thumbprints.
        # Retained on delete whatever the tier: other stacks or projects in the account may come to trust it,
        # and deleting it breaks every GitHub role in the account at once.
        provider = aws.iam.OpenIdConnectProvider(
            f"{name}-github",
            url=GITHUB_OIDC_URL,
            client_id_lists=[STS_AUDIENCE],
            tags={**tags, "Name": "github-actions"},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=True),
        )
        return provider.arn
