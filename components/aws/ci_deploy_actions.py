"""Every action the CI deploy role may take, per service and kind of resource (used by ci_deploy_policy.py).

Listed one by one, never `<service>:*`: a kind of resource the program starts using needs a deliberate change
here, and a failed `pulumi up` names the missing action.
"""

from __future__ import annotations

# Role writes the iam:PermissionsBoundary condition key applies to (IAM service authorization reference): the
# deploy role may make them only for roles that carry the stack's boundary (ci_deploy_policy.py).
IAM_BOUNDED_ROLE_ACTIONS = (
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:PutRolePermissionsBoundary",
)
# Role writes without that key: they change no permission of the role (its trust only names who may assume it,
# and whoever does is still bounded).
IAM_ROLE_WRITE_ACTIONS = (
    "iam:DeleteRole",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:UpdateAssumeRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
)
IAM_ATTACH_ACTIONS = ("iam:AttachRolePolicy", "iam:DetachRolePolicy")
IAM_POLICY_WRITE_ACTIONS = (
    "iam:CreatePolicy",
    "iam:DeletePolicy",
    "iam:CreatePolicyVersion",
    "iam:DeletePolicyVersion",
    "iam:TagPolicy",
    "iam:UntagPolicy",
)
IAM_INSTANCE_PROFILE_ACTIONS = (
    "iam:CreateInstanceProfile",
    "iam:DeleteInstanceProfile",
    "iam:AddRoleToInstanceProfile",
    "iam:RemoveRoleFromInstanceProfile",
    "iam:TagInstanceProfile",
    "iam:UntagInstanceProfile",
)
IAM_OIDC_PROVIDER_ACTIONS = (
    "iam:CreateOpenIDConnectProvider",
    "iam:DeleteOpenIDConnectProvider",
    "iam:UpdateOpenIDConnectProviderThumbprint",
    "iam:AddClientIDToOpenIDConnectProvider",
    "iam:RemoveClientIDFromOpenIDConnectProvider",
    "iam:TagOpenIDConnectProvider",
    "iam:UntagOpenIDConnectProvider",
)
# EC2: the network (components/aws/network.py, its flow logs and default security group), the edge's Redis
# security group and the node groups' launch templates. Split by what the EC2 Service Authorization Reference
# lets a condition see (ci_deploy_network.py turns each list into a statement; docs/ci-identity.md lists them).
#
# Creates that tag the new resource in the same call (TagSpecifications; the AWS provider tags on create):
# aws:RequestTag applies to the created resource, so they are allowed only with the stack's cluster tag.
EC2_CREATE_ACTIONS = (
    "ec2:CreateVpc",
    "ec2:CreateSubnet",
    "ec2:CreateInternetGateway",
    "ec2:AllocateAddress",
    "ec2:CreateNatGateway",
    "ec2:CreateRouteTable",
    "ec2:CreateSecurityGroup",
    "ec2:CreateLaunchTemplate",
    # VPC flow logs (components/aws/vpc_flow_logs.py).
    "ec2:CreateFlowLogs",
)
# Changes to existing resources: every resource type these act on (vpc, subnet, internet-gateway, elastic-ip,
# natgateway, route-table, security-group, launch-template, vpc-flow-log) supports aws:ResourceTag, so they are
# allowed only on resources carrying the stack's cluster tag. Routes and route-table associations have no tags
# of their own; their actions are authorized on the route table (and subnet, gateway), which carry the tag.
EC2_TAGGED_RESOURCE_ACTIONS = (
    "ec2:DeleteVpc",
    "ec2:ModifyVpcAttribute",
    "ec2:DeleteSubnet",
    "ec2:ModifySubnetAttribute",
    "ec2:DeleteInternetGateway",
    "ec2:AttachInternetGateway",
    "ec2:DetachInternetGateway",
    "ec2:ReleaseAddress",
    "ec2:DisassociateAddress",
    "ec2:DeleteNatGateway",
    "ec2:DeleteRouteTable",
    "ec2:CreateRoute",
    "ec2:DeleteRoute",
    "ec2:ReplaceRoute",
    "ec2:AssociateRouteTable",
    "ec2:DisassociateRouteTable",
    "ec2:ReplaceRouteTableAssociation",
    "ec2:DeleteSecurityGroup",
    "ec2:CreateLaunchTemplateVersion",
    "ec2:ModifyLaunchTemplate",
    "ec2:DeleteLaunchTemplate",
    "ec2:DeleteLaunchTemplateVersions",
    "ec2:DeleteFlowLogs",
)
# Security group rules: authorized on the group (tagged) and on the rule (security-group-rule, untagged here:
# the program does not tag rules), so the rule resource is allowed by type and the group by its tag.
EC2_SECURITY_GROUP_RULE_ACTIONS = (
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:ModifySecurityGroupRules",
    "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
    "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
)
# Tag writes on existing resources: only on the stack's resources, and never the cluster tag itself.
EC2_RETAG_ACTIONS = ("ec2:CreateTags", "ec2:DeleteTags")
# What cannot be tag-limited, only limited to the region. RunInstances: EKS checks that whoever creates a managed
# node group from a launch template may launch from it; the call names resources the program does not tag
# (the AMI, the cluster security group EKS creates), so a tag condition would refuse it.
EC2_UNTAGGED_ACTIONS = ("ec2:RunInstances",)
EKS_WRITE_ACTIONS = (
    "eks:CreateCluster",
    "eks:DeleteCluster",
    "eks:UpdateClusterConfig",
    "eks:UpdateClusterVersion",
    "eks:AssociateEncryptionConfig",
    "eks:CreateNodegroup",
    "eks:DeleteNodegroup",
    "eks:UpdateNodegroupConfig",
    "eks:UpdateNodegroupVersion",
    "eks:CreateAddon",
    "eks:DeleteAddon",
    "eks:UpdateAddon",
    "eks:CreateAccessEntry",
    "eks:DeleteAccessEntry",
    "eks:UpdateAccessEntry",
    "eks:AssociateAccessPolicy",
    "eks:DisassociateAccessPolicy",
    "eks:CreatePodIdentityAssociation",
    "eks:DeletePodIdentityAssociation",
    "eks:UpdatePodIdentityAssociation",
    "eks:TagResource",
    "eks:UntagResource",
)
ECR_MANAGE_ACTIONS = (
    "ecr:CreateRepository",
    "ecr:DeleteRepository",
    "ecr:PutImageScanningConfiguration",
    "ecr:PutImageTagMutability",
    "ecr:SetRepositoryPolicy",
    "ecr:DeleteRepositoryPolicy",
    "ecr:PutLifecyclePolicy",
    "ecr:DeleteLifecyclePolicy",
    "ecr:TagResource",
    "ecr:UntagResource",
)
KMS_KEY_MANAGE_ACTIONS = (
    "kms:DescribeKey",
    "kms:EnableKeyRotation",
    "kms:UpdateKeyDescription",
    "kms:PutKeyPolicy",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:UpdateAlias",
    "kms:ScheduleKeyDeletion",
)
LOGS_WRITE_ACTIONS = (
    "logs:CreateLogGroup",
    "logs:DeleteLogGroup",
    "logs:PutRetentionPolicy",
    "logs:DeleteRetentionPolicy",
    "logs:AssociateKmsKey",
    "logs:DisassociateKmsKey",
    "logs:TagResource",
    "logs:UntagResource",
)

# AWS Budgets: the stack's budget (components/aws/budget.py). CreateBudget, UpdateBudget, DeleteBudget and the
# notification calls all authorize as budgets:ModifyBudget (AWS Budgets "Actions, resources and condition keys").
BUDGET_ACTIONS = ("budgets:ModifyBudget", "budgets:ViewBudget", "budgets:TagResource", "budgets:UntagResource")
# ECR pull-through cache (components/aws/pull_through_cache.py). Rules, creation templates and the registry's
# scanning configuration are registry-level settings with no resource ARN of their own: allowed in the stack's region.
ECR_REGISTRY_SETTINGS_ACTIONS = (
    "ecr:CreatePullThroughCacheRule",
    "ecr:UpdatePullThroughCacheRule",
    "ecr:DeletePullThroughCacheRule",
    "ecr:ValidatePullThroughCacheRule",
    "ecr:CreateRepositoryCreationTemplate",
    "ecr:UpdateRepositoryCreationTemplate",
    "ecr:DeleteRepositoryCreationTemplate",
    "ecr:PutRegistryScanningConfiguration",
)
# A creation template may only set what its author could set on a repository under its prefix.
ECR_CACHE_REPOSITORY_ACTIONS = ("ecr:CreateRepository", "ecr:PutLifecyclePolicy")
# The upstream credentials' secret (`ecr-pullthroughcache/<stack prefix>...`). GetSecretValue: the provider reads
# the version back on refresh (ReadOnlyAccess does not include it).
SECRETS_WRITE_ACTIONS = (
    "secretsmanager:CreateSecret",
    "secretsmanager:DeleteSecret",
    "secretsmanager:UpdateSecret",
    "secretsmanager:PutSecretValue",
    "secretsmanager:GetSecretValue",
    "secretsmanager:TagResource",
    "secretsmanager:UntagResource",
)
# The model-weights bucket (components/aws/model_weights_bucket.py). Object deletes: `force_destroy` empties the bucket
# when a non-production stack is destroyed; the staging Job, not the deploy role, writes the objects.
S3_WEIGHTS_BUCKET_ACTIONS = (
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketTagging",
    "s3:PutLifecycleConfiguration",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
)
