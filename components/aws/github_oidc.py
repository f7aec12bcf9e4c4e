"""GitHub Actions' identity in AWS: the account's OIDC provider and three stack-scoped roles (preview, deploy,
image push), each trusting exactly one workflow context of one repository. No long-lived keys anywhere."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalogs.github_subjects import GithubRepository, branch_subject, environment_subject

from .iam_policies import (
    GITHUB_OIDC_URL,
    READ_ONLY_ACCESS_ARN,
    STACK_TAG_KEY,
    STS_AUDIENCE,
    DeployScope,
    StateBackend,
    ci_role_names,
    deploy_policy,
    ecr_repository_arn,
    github_trust_policy,
    image_push_policy,
    preview_inline_policy,
    preview_subjects,
)

# AWS allows 1-12 h. Previews and pushes finish well within the hour; `pulumi up` of a cluster with GPU node
# groups and Helm releases can take longer, and an expired session mid-update leaves pending operations.
PREVIEW_SESSION_SECONDS = 3600
DEPLOY_SESSION_SECONDS = 2 * 3600
PUSH_SESSION_SECONDS = 3600


@dataclass(frozen=True)
class GithubCiIdentityArgs:
    repository: GithubRepository
    main_branch: str
    # ARN of the account's token.actions.githubusercontent.com provider; None = create it here.
    existing_provider_arn: str | None
    # The Pulumi stack; also the GitHub environment whose jobs may deploy it.
    stack: str
    # Stack-scoped prefix of the role names (iam_policies.stack_name_prefix).
    name_prefix: str
    region: str
    cluster_name: str
    image_repository_name: str
    # Names of every IAM role/policy/instance profile/KMS alias the stack creates start with one of these.
    deploy_name_prefixes: Sequence[str]
    state_backend: StateBackend | None
    # Production: protect the OIDC provider from deletion.
    protect: bool


class GithubCiIdentity(pulumi.ComponentResource):
    provider_arn: pulumi.Output[str]
    preview_role_arn: pulumi.Output[str]
    deploy_role_arn: pulumi.Output[str]
    image_push_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: GithubCiIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:aws:GithubCiIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {STACK_TAG_KEY: args.stack}
        names = ci_role_names(args.name_prefix)

        if args.existing_provider_arn is not None:
            # One provider per account and URL: a second stack in the account references it, never re-creates it.
            provider_arn: pulumi.Output[str] = pulumi.Output.from_input(args.existing_provider_arn)
        else:
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
            provider_arn = provider.arn
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

        repo = args.repository
        # Read-only, so it also serves the scheduled drift check (`pulumi preview --refresh`), which runs on the
        # default branch without an environment: both subjects are listed exactly.
        preview = role(
            "preview",
            names.preview,
            preview_subjects(repo, args.main_branch),
            PREVIEW_SESSION_SECONDS,
            f"pulumi preview of {args.stack} from pull requests and the drift check of {repo.org}/{repo.repo} (read-only)",
        )
        deploy = role(
            "deploy",
            names.deploy,
            [environment_subject(repo, args.stack)],
            DEPLOY_SESSION_SECONDS,
            f"pulumi up of {args.stack} from the GitHub environment {args.stack} of {repo.org}/{repo.repo}",
        )
        push = role(
            "image-push",
            names.image_push,
            [branch_subject(repo, args.main_branch)],
            PUSH_SESSION_SECONDS,
            f"push the serving image to {args.image_repository_name} from {args.main_branch} of {repo.org}/{repo.repo}",
        )

        # Refresh reads every resource type the program manages, hence ReadOnlyAccess. It grants neither
        # kms:Decrypt nor secretsmanager:GetSecretValue; the state backend's keys are granted explicitly.
        for suffix, r in (("preview", preview), ("deploy", deploy)):
            aws.iam.RolePolicyAttachment(f"{name}-{suffix}-read-only", role=r.name, policy_arn=READ_ONLY_ACCESS_ARN, opts=child)
        preview_extra = preview_inline_policy(args.state_backend)
        if preview_extra is not None:
            aws.iam.RolePolicy(
                f"{name}-preview-state", name="pulumi-state-read", role=preview.name, policy=json.dumps(preview_extra), opts=child
            )

        prefixes = tuple(args.deploy_name_prefixes)

        def deploy_document(values: list[str]) -> str:
            account, provider = values
            scope = DeployScope(
                account_id=account,
                region=args.region,
                stack=args.stack,
                cluster_name=args.cluster_name,
                repository_name=args.image_repository_name,
                name_prefixes=prefixes,
                ci_role_names=names,
                github_provider_arn=provider,
                state_backend=args.state_backend,
            )
            return json.dumps(deploy_policy(scope), separators=(",", ":"))

        aws.iam.RolePolicy(
            f"{name}-deploy",
            name="pulumi-up",
            role=deploy.name,
            policy=pulumi.Output.all(account_id, provider_arn).apply(deploy_document),
            opts=child,
        )
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
        self.register_outputs(
            {
                "providerArn": self.provider_arn,
                "previewRoleArn": self.preview_role_arn,
                "deployRoleArn": self.deploy_role_arn,
                "imagePushRoleArn": self.image_push_role_arn,
            }
        )
