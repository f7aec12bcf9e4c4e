"""Deterministic, realistic stand-ins for what the clouds would compute, and answers to the program's invokes.

Every resource gets an `id`, and AWS resources an `arn`, derived from a hash of (type, logical name), so two
runs of the plan are byte-identical and a value built from another resource's output (a KMS key ARN inside a
policy, a subnet id inside a node group) is never lost. Resource types with outputs of their own (an ECR
repository URL, an EKS cluster's OIDC issuer, a node group's Auto Scaling group) have a rule in `_COMPUTED` (the
GCP rules are in `standins_gcp.py`; the shared context and hashes in `standin_context.py`).
An invoke the plan does not know raises `UnknownInvokeError` instead of returning None.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi

from .standin_context import ACCOUNT_ID, GCP_PROJECT_NUMBER, ComputedRule, Context, auto_name, stable_hex, stable_uuid
from .standins_gcp import GCP_COMPUTED


class UnknownInvokeError(Exception):
    pass


def _service(typ: str) -> str:
    # "aws:ec2/vpc:Vpc" -> "ec2"
    return typ.split(":")[1].split("/")[0]


_ID_PREFIX = {
    "aws:ec2/vpc:Vpc": "vpc-",
    "aws:ec2/subnet:Subnet": "subnet-",
    "aws:ec2/internetGateway:InternetGateway": "igw-",
    "aws:ec2/natGateway:NatGateway": "nat-",
    "aws:ec2/eip:Eip": "eipalloc-",
    "aws:ec2/routeTable:RouteTable": "rtb-",
    "aws:ec2/securityGroup:SecurityGroup": "sg-",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt-",
    "aws:ec2/route:Route": "r-",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc-",
}


def _aws_arn(ctx: Context, typ: str, name: str, inputs: dict[str, Any]) -> str:
    service = _service(typ)
    kind = typ.rsplit(":", 1)[1]
    resource_name = inputs.get("name") or name
    if service == "iam":
        return f"arn:aws:iam::{ACCOUNT_ID}:{kind[0].lower() + kind[1:]}/{resource_name}"
    if service == "kms":
        return f"arn:aws:kms:{ctx.region}:{ACCOUNT_ID}:key/{stable_uuid(typ, name)}"
    return f"arn:aws:{service}:{ctx.region}:{ACCOUNT_ID}:{kind.lower()}/{resource_name}"


def _kms_key(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    key_id = stable_uuid("aws:kms/key:Key", name)
    return {"keyId": key_id, "arn": f"arn:aws:kms:{ctx.region}:{ACCOUNT_ID}:key/{key_id}"}


def _ecr_repository(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    repo = inputs.get("name", name)
    return {
        "registryId": ACCOUNT_ID,
        "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{ctx.region}.amazonaws.com/{repo}",
        "arn": f"arn:aws:ecr:{ctx.region}:{ACCOUNT_ID}:repository/{repo}",
    }


def _s3_bucket(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    # A bucket's id is its name; its ARN has no region or account.
    bucket = inputs.get("bucket") or auto_name(ctx, "aws:s3/bucket:Bucket", name)
    return {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}"}


def _oidc_provider(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    host = str(inputs.get("url", "")).removeprefix("https://")
    return {"arn": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{host}"}


def _eks_cluster(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    cluster_name = inputs.get("name", name)
    issuer_id = stable_hex("eks-oidc", cluster_name, length=32).upper()
    issuer_host = f"oidc.eks.{ctx.region}.amazonaws.com/id/{issuer_id}"
    endpoint = f"https://{stable_hex('eks-endpoint', cluster_name, length=32).upper()}.gr7.{ctx.region}.eks.amazonaws.com"
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {"server": endpoint, "certificate-authority-data": "LS0tLS1CRUdJTi1PRkZMSU5FLVBMQU4tLS0tLQo="},
            }
        ],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [
            {
                "name": cluster_name,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "aws",
                        "args": ["eks", "get-token", "--cluster-name", cluster_name, "--output", "json"],
                    }
                },
            }
        ],
    }
    return {
        "kubeconfig": kubeconfig,
        "kubeconfigJson": json.dumps(kubeconfig, sort_keys=True),
        "clusterSecurityGroupId": f"sg-{stable_hex('eks-cluster-sg', cluster_name)}",
        "nodeSecurityGroupId": f"sg-{stable_hex('eks-node-sg', cluster_name)}",
        "oidcProviderArn": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{issuer_host}",
        # pulumi-eks reports the issuer URL with its scheme and oidcIssuer without it.
        "oidcProviderUrl": f"https://{issuer_host}",
        "oidcIssuer": issuer_host,
    }


def _eks_node_group(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    # Auto-named like any other resource; EKS names the group's Auto Scaling group "eks-<node group>-<uuid>".
    group = inputs.get("nodeGroupName") or auto_name(ctx, "aws:eks/nodeGroup:NodeGroup", name)
    return {
        "nodeGroupName": group,
        "arn": f"arn:aws:eks:{ctx.region}:{ACCOUNT_ID}:nodegroup/{inputs.get('clusterName', 'cluster')}/{group}/{stable_uuid(name)}",
        "status": "ACTIVE",
        "resources": [{"autoscalingGroups": [{"name": f"eks-{group}-{stable_uuid('asg', name)}"}], "remoteAccessSecurityGroupId": ""}],
    }


def _elasticache_replication_group(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    # With in-transit encryption ElastiCache names the primary "master.<group>.<hash>.<region code>.cache.amazonaws.com"
    # (a short region code such as use1; the stand-in uses the region itself).
    group = inputs.get("replicationGroupId") or auto_name(ctx, "aws:elasticache/replicationGroup:ReplicationGroup", name)
    return {"primaryEndpointAddress": f"master.{group}.{stable_hex('elasticache', group, length=6)}.{ctx.region}.cache.amazonaws.com"}


def _acm_certificate(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    # ACM answers one DNS validation record per name: a CNAME `_<hex>.<name>.` -> `_<hex>.acm-validations.aws.`.
    domains = [inputs.get("domainName", name), *inputs.get("subjectAlternativeNames", [])]
    options = [
        {
            "domainName": domain,
            "resourceRecordName": f"_{stable_hex('acm-validation-name', domain, length=32)}.{domain.removeprefix('*.')}.",
            "resourceRecordType": "CNAME",
            "resourceRecordValue": f"_{stable_hex('acm-validation-value', domain, length=32)}.acm-validations.aws.",
        }
        for domain in domains
    ]
    return {
        "arn": f"arn:aws:acm:{ctx.region}:{ACCOUNT_ID}:certificate/{stable_uuid('aws:acm/certificate:Certificate', name)}",
        "domainValidationOptions": options,
    }


def _route53_record(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    # Route 53 reports the record's name as a lowercase FQDN without the trailing dot.
    return {"fqdn": str(inputs.get("name", name)).rstrip(".").lower()}


def _launch_template(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"latestVersion": 1, "defaultVersion": 1}


_COMPUTED: dict[str, ComputedRule] = {
    "aws:kms/key:Key": _kms_key,
    "aws:elasticache/replicationGroup:ReplicationGroup": _elasticache_replication_group,
    "aws:ecr/repository:Repository": _ecr_repository,
    "aws:s3/bucket:Bucket": _s3_bucket,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _oidc_provider,
    "eks:index:Cluster": _eks_cluster,
    "aws:eks/nodeGroup:NodeGroup": _eks_node_group,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:acm/certificate:Certificate": _acm_certificate,
    "aws:route53/record:Record": _route53_record,
    **GCP_COMPUTED,
}


def resource_outputs(ctx: Context, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The (id, outputs) the plan answers for one registered resource."""
    outputs = dict(inputs)
    if "name" not in outputs and not typ.startswith(("kubernetes:", "pulumi:")):
        # Pulumi auto-names a resource "<logical name>-<7 random chars>"; the plan derives the suffix instead.
        outputs["name"] = auto_name(ctx, typ, name)
    resource_id = _ID_PREFIX.get(typ, "") + stable_hex(typ, name)
    if typ.startswith("aws:"):
        outputs.setdefault("arn", _aws_arn(ctx, typ, name, outputs))
    rule = _COMPUTED.get(typ)
    if rule is not None:
        outputs.update(rule(ctx, name, outputs))
    if typ.startswith("aws:iam/role:Role") or typ.startswith("aws:ecr/repository:"):
        resource_id = outputs["name"]
    if typ == "aws:s3/bucket:Bucket":
        resource_id = outputs["bucket"]
    return resource_id, outputs


Invoke = Callable[[Context, dict[str, Any]], dict[str, Any]]


def _caller_identity(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/offline-plan", "userId": "AROAOFFLINEPLAN", "id": ACCOUNT_ID}


def _partition(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    return {"partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws", "id": "aws"}


def _region(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": ctx.region, "region": ctx.region, "id": ctx.region, "endpoint": f"ec2.{ctx.region}.amazonaws.com"}


def _gcp_project(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    project = args.get("projectId") or ctx.gcp_project
    return {"projectId": project, "number": GCP_PROJECT_NUMBER, "name": project, "id": f"projects/{project}"}


INVOKES: dict[str, Invoke] = {
    "aws:index/getCallerIdentity:getCallerIdentity": _caller_identity,
    "aws:index/getPartition:getPartition": _partition,
    "aws:index/getRegion:getRegion": _region,
    "gcp:organizations/getProject:getProject": _gcp_project,
}


class StandInMocks(pulumi.runtime.Mocks):
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        return resource_outputs(self.ctx, args.typ, args.name, args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        answer = INVOKES.get(args.token)
        if answer is None:
            raise UnknownInvokeError(
                f"the offline plan has no stand-in for invoke {args.token!r}; add one to infra/plan/standins.py INVOKES"
            )
        # An empty failure list: pulumi's MockMonitor iterates it (None raises TypeError on every invoke).
        return answer(self.ctx, args.args), []
