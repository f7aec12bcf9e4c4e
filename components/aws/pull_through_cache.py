"""ECR pull-through cache: upstream registries served from the stack's own registry, in-region.

A node pulls `<account>.dkr.ecr.<region>.amazonaws.com/<upstream>/<path>`; on the first pull of an image ECR creates
the repository (from the creation template: immutable tags, lifecycle) and imports the image from the upstream
with the rule's credentials; every later pull in the region is served by ECR. Cached repositories are scanned on
push by the registry's scanning configuration.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from catalogs.image_registries import CREDENTIAL_SECRET_PREFIX, UPSTREAMS, Upstream, ecr_registry_host

from .ecr import lifecycle_policy, repository_key_policy
from .eks_cluster import partition_of
from .iam_documents import PolicyDocument
from .stack_names import STACK_TAG_KEY

# What the node's kubelet (through the ECR credential provider) needs on top of the pull actions its managed policy
# grants, so that the first pull of an image creates the cached repository and imports the image.
FIRST_PULL_ACTIONS = ("ecr:BatchImportUpstreamImage", "ecr:CreateRepository")


def cache_repositories_arn(region: str, account_id: str, upstream: str) -> str:
    return f"arn:aws:ecr:{region}:{account_id}:repository/{upstream}/*"


def first_pull_policy(region: str, account_id: str, upstreams: Sequence[str]) -> PolicyDocument:
    """Create and fill cached repositories under the rules' prefixes only, never any other repository."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PullThroughCacheFirstPull",
                "Effect": "Allow",
                "Action": list(FIRST_PULL_ACTIONS),
                "Resource": [cache_repositories_arn(region, account_id, u) for u in sorted(upstreams)],
            }
        ],
    }


def ecr_service_trust() -> PolicyDocument:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecr.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }


def creation_role_policy(region: str, account_id: str, upstreams: Sequence[str], key_arn: str) -> PolicyDocument:
    """What ECR does as the templates' role: create the cached repositories, and the grant on the key they use."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CreateCachedRepositories",
                "Effect": "Allow",
                "Action": ["ecr:CreateRepository", "ecr:TagResource"],
                "Resource": [cache_repositories_arn(region, account_id, u) for u in sorted(upstreams)],
            },
            {"Sid": "EncryptCachedRepositories", "Effect": "Allow", "Action": ["kms:CreateGrant", "kms:DescribeKey"], "Resource": key_arn},
        ],
    }


def scan_on_push_filters(upstreams: Sequence[str], repository_name: str) -> list[str]:
    """Registry-level basic scanning replaces the repositories' own scanOnPush: keep the serving repository in it."""
    return sorted({repository_name, *(f"{u}/*" for u in upstreams)})


def credential_secret_name(name_prefix: str, upstream: str) -> str:
    return f"{CREDENTIAL_SECRET_PREFIX}{name_prefix}{upstream}"


@dataclass(frozen=True)
class PullThroughCacheArgs:
    # Names from catalogs.image_registries.UPSTREAMS.
    upstreams: Sequence[str]
    # The secret value AWS expects per credentialed upstream (Docker Hub: {"username": ..., "accessToken": ...}).
    credentials: Mapping[str, pulumi.Input[str]]
    # Cached repositories keep this many tagged images and drop untagged ones after this many days.
    keep_tagged_images: int
    untagged_expiry_days: int
    # The stack's own repository, kept in the registry's scan-on-push filters.
    serving_repository_name: str
    # The EKS node role(s): their kubelets pull through the cache.
    puller_role_names: Sequence[pulumi.Input[str]]
    stack: str
    region: str
    name_prefix: str
    # The stack's permissions boundary (GithubCiIdentity.permissions_boundary_arn), carried by the templates' role.
    permissions_boundary: pulumi.Input[str] | None = None
    # Production: the cached repositories' key survives `pulumi destroy` and cannot be replaced by accident.
    protect: bool = False


class PullThroughCache(pulumi.ComponentResource):
    registry_host: pulumi.Output[str]

    def __init__(self, name: str, args: PullThroughCacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:aws:PullThroughCache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        unknown = sorted(set(args.upstreams) - set(UPSTREAMS))
        if unknown:
            raise ValueError(f"unknown upstream registries {unknown}; known: {sorted(UPSTREAMS)}")
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id
        tags = {STACK_TAG_KEY: args.stack}
        lifecycle = json.dumps(lifecycle_policy(args.keep_tagged_images, args.untagged_expiry_days))
        partition = partition_of(args.region)
        # The cached repositories' key: like the serving repository's, usable only through ECR.
        key = aws.kms.Key(
            f"{name}-key",
            description=f"ECR pull-through cache repositories ({args.stack})",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=account_id.apply(lambda a: json.dumps(repository_key_policy(partition, a, args.region), sort_keys=True)),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect),
        )
        aws.kms.Alias(f"{name}-key", name=f"alias/{args.name_prefix}ecr-cache", target_key_id=key.key_id, opts=child)
        creation_role = aws.iam.Role(
            f"{name}-creation-role",
            assume_role_policy=json.dumps(ecr_service_trust()),
            description=f"{args.stack}: ECR creates pull-through cache repositories (KMS-encrypted) with this role",
            permissions_boundary=args.permissions_boundary,
            tags=tags,
            opts=child,
        )
        creation_policy = aws.iam.RolePolicy(
            f"{name}-creation",
            role=creation_role.name,
            policy=pulumi.Output.all(account_id, key.arn).apply(
                lambda v: json.dumps(creation_role_policy(args.region, v[0], args.upstreams, v[1]))
            ),
            opts=child,
        )
        for upstream in (UPSTREAMS[u] for u in args.upstreams):
            credential = self._credential(name, args, upstream, tags)
            aws.ecr.PullThroughCacheRule(
                f"{name}-{upstream.name}",
                ecr_repository_prefix=upstream.name,
                upstream_registry_url=upstream.registry_url,
                credential_arn=credential[0] if credential else None,
                # ECR checks the credentials when the rule is created: the secret must hold them by then.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[credential[1]] if credential else []),
            )
            aws.ecr.RepositoryCreationTemplate(
                f"{name}-{upstream.name}-template",
                # ECR creates the cached repositories as this role: a customer managed key needs it.
                custom_role_arn=creation_role.arn,
                prefix=upstream.name,
                applied_fors=["PULL_THROUGH_CACHE"],
                description=f"{args.stack}: images cached from {upstream.registry_url}",
                # Pods pull by digest; a tag the cache once stored never silently changes under a running Rollout.
                image_tag_mutability="IMMUTABLE",
                encryption_configurations=[
                    aws.ecr.RepositoryCreationTemplateEncryptionConfigurationArgs(encryption_type="KMS", kms_key=key.arn)
                ],
                lifecycle_policy=lifecycle,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[creation_policy]),
            )
        aws.ecr.RegistryScanningConfiguration(
            f"{name}-scanning",
            scan_type="BASIC",
            rules=[
                aws.ecr.RegistryScanningConfigurationRuleArgs(
                    scan_frequency="SCAN_ON_PUSH",
                    repository_filters=[
                        aws.ecr.RegistryScanningConfigurationRuleRepositoryFilterArgs(filter=f, filter_type="WILDCARD")
                        for f in scan_on_push_filters(args.upstreams, args.serving_repository_name)
                    ],
                )
            ],
            opts=child,
        )
        policy = account_id.apply(lambda a: json.dumps(first_pull_policy(args.region, a, args.upstreams)))
        for i, role in enumerate(args.puller_role_names):
            aws.iam.RolePolicy(f"{name}-first-pull-{i}", role=role, policy=policy, opts=child)
        self.registry_host = account_id.apply(lambda a: ecr_registry_host(a, args.region))
        self.register_outputs({"registryHost": self.registry_host})

    def _credential(
        self, name: str, args: PullThroughCacheArgs, upstream: Upstream, tags: dict[str, Any]
    ) -> tuple[pulumi.Output[str], pulumi.Resource] | None:
        if not upstream.needs_credentials:
            return None
        value = args.credentials.get(upstream.name)
        if value is None:
            raise ValueError(f"upstream {upstream.name} needs credentials (PullThroughCacheArgs.credentials)")
        secret = aws.secretsmanager.Secret(
            f"{name}-{upstream.name}-credentials",
            name=credential_secret_name(args.name_prefix, upstream.name),
            description=f"{args.stack}: ECR pull-through cache credentials for {upstream.registry_url}",
            # ECR reads pull-through credentials only from secrets under the AWS managed key aws/secretsmanager
            # (still KMS envelope encryption); a customer managed key makes the rule fail to authenticate.
            kms_key_id=None,
            # The fixed name would be blocked for the recovery window after a delete; recreate immediately.
            recovery_window_in_days=0,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        version = aws.secretsmanager.SecretVersion(
            f"{name}-{upstream.name}-credentials",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(value),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return secret.arn, version
