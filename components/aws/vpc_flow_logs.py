"""VPC flow logs (all traffic, accepted and rejected) to a KMS-encrypted CloudWatch log group with a configured
retention, delivered by an IAM role that can write to that group only and that only the flow logs service of this
account can assume."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .encrypted_log_group import EncryptedLogGroupSpec, encrypted_log_group
from .iam_documents import PolicyDocument
from .kms_key_policies import log_group_arn

FLOW_LOGS_SERVICE = "vpc-flow-logs.amazonaws.com"


def flow_log_group_name(cluster_name: str) -> str:
    return f"/aws/vpc/{cluster_name}/flow-logs"


def delivery_trust_policy(partition: str, region: str, account_id: str) -> PolicyDocument:
    """Only the flow logs service, and only for flow logs of this account and region (confused-deputy guard)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": FLOW_LOGS_SERVICE},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": f"arn:{partition}:ec2:{region}:{account_id}:vpc-flow-log/*"},
                },
            }
        ],
    }


def delivery_policy(partition: str, region: str, account_id: str, log_group_name: str) -> PolicyDocument:
    """Write log streams and events into the one flow log group; nothing else (the group exists, so no
    CreateLogGroup)."""
    group = log_group_arn(partition, region, account_id, log_group_name)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WriteFlowLogGroup",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": [group, f"{group}:log-stream:*"],
            },
            {
                # Lists group names only; DescribeLogGroups has no resource-level permission, so "*" or nothing.
                "Sid": "FindFlowLogGroup",
                "Effect": "Allow",
                "Action": ["logs:DescribeLogGroups"],
                "Resource": "*",
            },
        ],
    }


@dataclass(frozen=True)
class VpcFlowLogsArgs:
    cluster_name: str
    vpc_id: pulumi.Input[str]
    partition: str
    region: str
    retention_days: int
    protect: bool
    tags: dict[str, str]
    # The stack's permissions boundary (GithubCiIdentity.permissions_boundary_arn), carried by every role created here.
    permissions_boundary: pulumi.Input[str] | None = None


class VpcFlowLogs(pulumi.ComponentResource):
    log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: VpcFlowLogsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:aws:VpcFlowLogs", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id
        group_name = flow_log_group_name(args.cluster_name)
        log_group = encrypted_log_group(
            f"{name}-group",
            EncryptedLogGroupSpec(
                log_group_name=group_name,
                retention_days=args.retention_days,
                alias_name=f"{args.cluster_name}-vpc-flow-logs",
                description=f"VPC flow logs of cluster {args.cluster_name}",
                partition=args.partition,
                region=args.region,
                tags=args.tags,
                protect=args.protect,
            ),
            account_id,
            self,
        )
        # Auto-named `<project>-<stack>-...` (Pulumi.yaml), a prefix the CI deploy role may create roles under.
        role = aws.iam.Role(
            f"{name}-role",
            description=f"VPC flow logs of {args.cluster_name}: deliver to {group_name}",
            assume_role_policy=account_id.apply(
                lambda a: json.dumps(delivery_trust_policy(args.partition, args.region, a), sort_keys=True)
            ),
            permissions_boundary=args.permissions_boundary,
            tags=args.tags,
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-role",
            role=role.name,
            policy=account_id.apply(lambda a: json.dumps(delivery_policy(args.partition, args.region, a, group_name), sort_keys=True)),
            opts=child,
        )
        aws.ec2.FlowLog(
            name,
            vpc_id=args.vpc_id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            tags={**args.tags, "Name": f"{args.cluster_name}-vpc"},
            # The role must be able to write before the first delivery, or the flow log reports an access error.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.log_group_name = log_group.name
        self.register_outputs({"logGroupName": self.log_group_name})
