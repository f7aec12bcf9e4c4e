"""The ECR repository for the serving image: scanned, immutable, KMS-encrypted, pruned, pushed to by CI only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from .eks_cluster import partition_of
from .iam_documents import PolicyDocument
from .kms_key_policies import KMS_CRYPTO_ACTIONS, via_service_key_policy
from .stack_names import STACK_TAG_KEY

# What `docker push` does to a repository. Pull-side actions (BatchGetImage, GetDownloadUrlForLayer,
# BatchCheckLayerAvailability) and management actions are not in this list on purpose: see repository_policy.
PUSH_ACTIONS = ("ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage")
PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability")


def lifecycle_policy(keep_tagged_images: int, untagged_expiry_days: int) -> dict[str, Any]:
    """Expire untagged images after N days; keep the N most recently pushed tagged images.

    Why these two rules and no others:
    - Untagged images can go by age. Tags are IMMUTABLE, so an image never loses its tag to a newer push: an
      untagged image is a failed or superseded upload that no `image: repo:tag` can name.
    - Tagged images go by count, never by age. An age rule (`sinceImagePushed` on tagged or `any` images)
      would delete the image production has been running, unchanged, for longer than N days; a node that
      scales up from zero then cannot pull it. A count rule removes an image only after keepTaggedImages newer
      builds were pushed, so the running image and the last releases to roll back to stay.
    The count must therefore exceed the number of builds pushed between two production releases plus the
    rollback depth you want (see docs/ci-identity.md). ECR applies the lowest rulePriority first and an
    image is expired by at most one rule.
    """
    if keep_tagged_images < 1 or untagged_expiry_days < 1:
        raise ValueError("keep_tagged_images and untagged_expiry_days must be at least 1")
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"Expire untagged images {untagged_expiry_days} days after push",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": untagged_expiry_days,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": f"Keep the {keep_tagged_images} most recently pushed tagged images",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPatternList": ["*"],
                    "countType": "imageCountMoreThan",
                    "countNumber": keep_tagged_images,
                },
                "action": {"type": "expire"},
            },
        ]
    }


def repository_policy(pull_principal_arns: Sequence[str], push_role_arn: str) -> PolicyDocument:
    """Nodes may pull; only the CI push role may push.

    The Deny names push actions only, for every principal whose ARN is not the push role's (aws:PrincipalArn
    is the role ARN for any session of that role). It deliberately leaves management actions alone
    (SetRepositoryPolicy, DeleteRepositoryPolicy, PutLifecyclePolicy, DeleteRepository, BatchDeleteImage...):
    account administrators and the deploy role keep full control of the repository and of this very policy,
    so a broken push role never locks anyone out; a break-glass push is a reviewed policy change. A condition
    on the ARN string (not a NotPrincipal) keeps working when the role is re-created under the same name.
    """
    statements: list[dict[str, Any]] = []
    if pull_principal_arns:
        statements.append(
            {"Sid": "NodesPull", "Effect": "Allow", "Principal": {"AWS": sorted(pull_principal_arns)}, "Action": list(PULL_ACTIONS)}
        )
    statements += [
        {"Sid": "CiPush", "Effect": "Allow", "Principal": {"AWS": push_role_arn}, "Action": [*PULL_ACTIONS, *PUSH_ACTIONS]},
        {
            "Sid": "OnlyCiPushes",
            "Effect": "Deny",
            "Principal": "*",
            "Action": list(PUSH_ACTIONS),
            "Condition": {"StringNotEquals": {"aws:PrincipalArn": push_role_arn}},
        },
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def repository_key_policy(partition: str, account_id: str, region: str) -> PolicyDocument:
    """Administration through IAM, use only through ECR: nobody decrypts image layers with the key directly.

    ECR creates a grant for itself when the repository is created (GrantsOnlyForAwsResources) and encrypts and
    decrypts layers through it; pushers and pullers need no KMS permission of their own.
    """
    return via_service_key_policy(
        partition, account_id, f"ecr.{region}.amazonaws.com", "UseOnlyThroughEcr", [*KMS_CRYPTO_ACTIONS, "kms:DescribeKey"]
    )


@dataclass(frozen=True)
class ImageRepositoryArgs:
    repository_name: str
    keep_tagged_images: int
    untagged_expiry_days: int
    # The CI image push role (GithubCiIdentity.image_push_role_arn).
    push_role_arn: pulumi.Input[str]
    # Roles that pull the image: the EKS node role(s).
    pull_principal_arns: Sequence[pulumi.Input[str]]
    stack: str
    region: str
    # Stack-scoped prefix of fixed names (stack_names.stack_name_prefix); the key alias is `<prefix>ecr`.
    name_prefix: str
    # Production: the repository and its key survive `pulumi destroy` and cannot be replaced by accident.
    protect: bool


class ImageRepository(pulumi.ComponentResource):
    repository_url: pulumi.Output[str]
    repository_arn: pulumi.Output[str]
    repository_name: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ImageRepositoryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:aws:ImageRepository", name, None, opts)
        tags = {STACK_TAG_KEY: args.stack, "Name": args.repository_name}
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)
        # A key of its own: its policy and grants concern this repository only, and rotation is on. Its policy
        # leaves administration to the account's IAM policies, so nobody can be locked out of the key.
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id
        partition = partition_of(args.region)
        key = aws.kms.Key(
            f"{name}-key",
            description=f"ECR repository {args.repository_name} ({args.stack})",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=account_id.apply(lambda a: json.dumps(repository_key_policy(partition, a, args.region), sort_keys=True)),
            tags=tags,
            opts=stateful,
        )
        aws.kms.Alias(
            f"{name}-key", name=f"alias/{args.name_prefix}ecr", target_key_id=key.key_id, opts=pulumi.ResourceOptions(parent=self)
        )
        repository = aws.ecr.Repository(
            f"{name}-repository",
            name=args.repository_name,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=key.arn)],
            # Outside production a `pulumi destroy` may remove the repository with its images.
            force_delete=not args.protect,
            tags=tags,
            opts=stateful,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repository.name,
            policy=json.dumps(lifecycle_policy(args.keep_tagged_images, args.untagged_expiry_days)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        pull = pulumi.Output.all(*args.pull_principal_arns)
        aws.ecr.RepositoryPolicy(
            f"{name}-policy",
            repository=repository.name,
            policy=pulumi.Output.all(pull, args.push_role_arn).apply(lambda v: json.dumps(repository_policy(list(v[0]), v[1]))),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.repository_url = repository.repository_url
        self.repository_arn = repository.arn
        self.repository_name = repository.name
        self.kms_key_arn = key.arn
        self.register_outputs(
            {
                "repositoryUrl": self.repository_url,
                "repositoryArn": self.repository_arn,
                "repositoryName": self.repository_name,
                "kmsKeyArn": self.kms_key_arn,
            }
        )
