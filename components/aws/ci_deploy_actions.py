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
# The network (components/aws/network.py, its flow logs and default security group), the cluster's security groups and the node groups' launch templates.
EC2_WRITE_ACTIONS = (
    "ec2:CreateVpc",
    "ec2:DeleteVpc",
    "ec2:ModifyVpcAttribute",
    "ec2:CreateSubnet",
    "ec2:DeleteSubnet",
    "ec2:ModifySubnetAttribute",
    "ec2:CreateInternetGateway",
    "ec2:DeleteInternetGateway",
    "ec2:AttachInternetGateway",
    "ec2:DetachInternetGateway",
    "ec2:AllocateAddress",
    "ec2:ReleaseAddress",
    "ec2:DisassociateAddress",
    "ec2:CreateNatGateway",
    "ec2:DeleteNatGateway",
    "ec2:CreateRouteTable",
    "ec2:DeleteRouteTable",
    "ec2:CreateRoute",
    "ec2:DeleteRoute",
    "ec2:ReplaceRoute",
    "ec2:AssociateRouteTable",
    "ec2:DisassociateRouteTable",
    "ec2:ReplaceRouteTableAssociation",
    "ec2:CreateSecurityGroup",
    "ec2:DeleteSecurityGroup",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:ModifySecurityGroupRules",
    "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
    "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
    "ec2:CreateLaunchTemplate",
    "ec2:CreateLaunchTemplateVersion",
    "ec2:ModifyLaunchTemplate",
    "ec2:DeleteLaunchTemplate",
    "ec2:DeleteLaunchTemplateVersions",
    "ec2:CreateTags",
    "ec2:DeleteTags",
    # VPC flow logs (components/aws/vpc_flow_logs.py).
    "ec2:CreateFlowLogs",
    "ec2:DeleteFlowLogs",
    # EKS checks that whoever creates a managed node group from a launch template may launch from it.
    "ec2:RunInstances",
)
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
