"""Deterministic, realistic stand-ins for what the clouds would compute, and answers to the program's invokes.

Every resource gets an `id`, and AWS resources an `arn`, derived from a hash of (type, logical name), so two
runs of the plan are byte-identical and a value built from another resource's output (a KMS key ARN inside a
policy, a subnet id inside a node group) is never lost. Resource types with outputs of their own (an ECR
repository URL, an EKS cluster's OIDC issuer, a node group's Auto Scaling group) have a rule in `_COMPUTED`.
An invoke the plan does not know raises `UnknownInvokeError` instead of returning None.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import pulumi

# The account, region and project the plan pretends to run in. They appear in ARNs and URLs of the plan only.
ACCOUNT_ID = "123456789012"
GCP_PROJECT_NUMBER = "123456789012"


class UnknownInvokeError(Exception):
    pass


def _hex(*parts: str, length: int = 17) -> str:
    return hashlib.sha256("::".join(parts).encode()).hexdigest()[:length]


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


class Context:
    """Values shared by the stand-in rules: region, project and the autonaming patterns of Pulumi.yaml."""

    def __init__(
        self,
        region: str,
        gcp_project: str | None,
        *,
        project: str = "ai-serving",
        stack: str = "test",
        autonaming: dict[str, str] | None = None,
    ) -> None:
        self.region = region
        self.gcp_project = gcp_project or "example-project"
        self.project = project
        self.stack = stack
        # provider package ("aws") -> pattern such as "${project}-${stack}-${name}-${hex(7)}"
        self.autonaming = autonaming or {}


_PATTERN_PART = re.compile(r"\$\{(\w+)(?:\((\d+)\))?\}")


def auto_name(ctx: Context, typ: str, name: str) -> str:
    """The physical name Pulumi would generate: the provider's autonaming pattern, else "<name>-<7 random>".

    Random parts are derived from a hash of (type, name) so the plan stays deterministic.
    """
    pattern = ctx.autonaming.get(typ.split(":")[0], "${name}-${hex(7)}")

    def expand(match: re.Match[str]) -> str:
        part, length = match.group(1), int(match.group(2) or 8)
        fixed = {"project": ctx.project, "stack": ctx.stack, "name": name, "organization": "organization"}
        if part in fixed:
            return fixed[part]
        if part == "uuid":
            return _uuid(typ, name)
        digits = _hex(typ, name, part, length=64)
        if part == "num":
            return "".join(str(int(c, 16) % 10) for c in digits[:length])
        return digits[:length]

    return _PATTERN_PART.sub(expand, pattern)


def _aws_arn(ctx: Context, typ: str, name: str, inputs: dict[str, Any]) -> str:
    service = _service(typ)
    kind = typ.rsplit(":", 1)[1]
    resource_name = inputs.get("name") or name
    if service == "iam":
        return f"arn:aws:iam::{ACCOUNT_ID}:{kind[0].lower() + kind[1:]}/{resource_name}"
    if service == "kms":
        return f"arn:aws:kms:{ctx.region}:{ACCOUNT_ID}:key/{_uuid(typ, name)}"
    return f"arn:aws:{service}:{ctx.region}:{ACCOUNT_ID}:{kind.lower()}/{resource_name}"


def _uuid(*parts: str) -> str:
    h = _hex(*parts, length=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


ComputedRule = Callable[[Context, str, dict[str, Any]], dict[str, Any]]


def _kms_key(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    key_id = _uuid("aws:kms/key:Key", name)
    return {"keyId": key_id, "arn": f"arn:aws:kms:{ctx.region}:{ACCOUNT_ID}:key/{key_id}"}


def _ecr_repository(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    repo = inputs.get("name", name)
    return {
        "registryId": ACCOUNT_ID,
        "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{ctx.region}.amazonaws.com/{repo}",
        "arn": f"arn:aws:ecr:{ctx.region}:{ACCOUNT_ID}:repository/{repo}",
    }


def _oidc_provider(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    host = str(inputs.get("url", "")).removeprefix("https://")
    return {"arn": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{host}"}


def _eks_cluster(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    cluster_name = inputs.get("name", name)
    issuer_id = _hex("eks-oidc", cluster_name, length=32).upper()
    issuer_host = f"oidc.eks.{ctx.region}.amazonaws.com/id/{issuer_id}"
    endpoint = f"https://{_hex('eks-endpoint', cluster_name, length=32).upper()}.gr7.{ctx.region}.eks.amazonaws.com"
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
        "clusterSecurityGroupId": f"sg-{_hex('eks-cluster-sg', cluster_name)}",
        "nodeSecurityGroupId": f"sg-{_hex('eks-node-sg', cluster_name)}",
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
        "arn": f"arn:aws:eks:{ctx.region}:{ACCOUNT_ID}:nodegroup/{inputs.get('clusterName', 'cluster')}/{group}/{_uuid(name)}",
        "status": "ACTIVE",
        "resources": [{"autoscalingGroups": [{"name": f"eks-{group}-{_uuid('asg', name)}"}], "remoteAccessSecurityGroupId": ""}],
    }


def _launch_template(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"latestVersion": 1, "defaultVersion": 1}


# --- GCP: self links, service account identities, workload identity and secret names ---
_COMPUTE_API = "https://www.googleapis.com/compute/v1"


def _gcp_digits(*parts: str, length: int) -> str:
    return str(int(_hex(*parts, length=32), 16))[:length]


def _project_of(ctx: Context, inputs: dict[str, Any]) -> str:
    return str(inputs.get("project") or ctx.gcp_project)


def _compute_link(scope: str, collection: str) -> ComputedRule:
    """selfLink of a compute resource; scope is "global", "region" or "zone" (read from the inputs)."""

    def rule(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        where = "global" if scope == "global" else f"{scope}s/{inputs.get(scope, 'unknown')}"
        return {"selfLink": f"{_COMPUTE_API}/projects/{_project_of(ctx, inputs)}/{where}/{collection}/{inputs['name']}"}

    return rule


def _gcp_instance(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {**_compute_link("zone", "instances")(ctx, name, inputs), "instanceId": _gcp_digits("instance", name, length=19)}


def _gcp_instance_template(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    # The provider names a template <namePrefix><26 digits>; a selfLinkUnique pins the exact version.
    template = f"{inputs['namePrefix']}{_gcp_digits('template', name, length=26)}" if "namePrefix" in inputs else inputs["name"]
    link = f"{_COMPUTE_API}/projects/{_project_of(ctx, inputs)}/global/instanceTemplates/{template}"
    return {"name": template, "selfLink": link, "selfLinkUnique": f"{link}?uniqueId={_gcp_digits('template-id', name, length=19)}"}


def _gcp_region_group_manager(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    base = f"{_COMPUTE_API}/projects/{_project_of(ctx, inputs)}/regions/{inputs.get('region')}"
    return {"selfLink": f"{base}/instanceGroupManagers/{inputs['name']}", "instanceGroup": f"{base}/instanceGroups/{inputs['name']}"}


def _gcp_service_account(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    project = _project_of(ctx, inputs)
    email = f"{inputs['accountId']}@{project}.iam.gserviceaccount.com"
    return {
        "email": email,
        "name": f"projects/{project}/serviceAccounts/{email}",
        "member": f"serviceAccount:{email}",
        "uniqueId": _gcp_digits("service-account", name, length=21),
    }


def _gcp_pool(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": f"projects/{GCP_PROJECT_NUMBER}/locations/global/workloadIdentityPools/{inputs['workloadIdentityPoolId']}",
        "state": "ACTIVE",
    }


def _gcp_pool_provider(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    pool = f"projects/{GCP_PROJECT_NUMBER}/locations/global/workloadIdentityPools/{inputs['workloadIdentityPoolId']}"
    return {"name": f"{pool}/providers/{inputs['workloadIdentityPoolProviderId']}", "state": "ACTIVE"}


def _gcp_custom_role(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"name": f"projects/{_project_of(ctx, inputs)}/roles/{inputs['roleId']}"}


def _gcp_secret(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"name": f"projects/{GCP_PROJECT_NUMBER}/secrets/{inputs['secretId']}"}


def _gcp_secret_version(ctx: Context, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"name": f"{inputs.get('secret')}/versions/1", "version": "1"}


_GCP_COMPUTED: dict[str, ComputedRule] = {
    "gcp:compute/network:Network": _compute_link("global", "networks"),
    "gcp:compute/subnetwork:Subnetwork": _compute_link("region", "subnetworks"),
    "gcp:compute/disk:Disk": _compute_link("zone", "disks"),
    "gcp:compute/healthCheck:HealthCheck": _compute_link("global", "healthChecks"),
    "gcp:compute/instance:Instance": _gcp_instance,
    "gcp:compute/instanceTemplate:InstanceTemplate": _gcp_instance_template,
    "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": _gcp_region_group_manager,
    "gcp:serviceaccount/account:Account": _gcp_service_account,
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": _gcp_pool,
    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": _gcp_pool_provider,
    "gcp:projects/iAMCustomRole:IAMCustomRole": _gcp_custom_role,
    "gcp:secretmanager/secret:Secret": _gcp_secret,
    "gcp:secretmanager/secretVersion:SecretVersion": _gcp_secret_version,
}


_COMPUTED: dict[str, ComputedRule] = {
    "aws:kms/key:Key": _kms_key,
    "aws:ecr/repository:Repository": _ecr_repository,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _oidc_provider,
    "eks:index:Cluster": _eks_cluster,
    "aws:eks/nodeGroup:NodeGroup": _eks_node_group,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    **_GCP_COMPUTED,
}


def resource_outputs(ctx: Context, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The (id, outputs) the plan answers for one registered resource."""
    outputs = dict(inputs)
    if "name" not in outputs and not typ.startswith(("kubernetes:", "pulumi:")):
        # Pulumi auto-names a resource "<logical name>-<7 random chars>"; the plan derives the suffix instead.
        outputs["name"] = auto_name(ctx, typ, name)
    resource_id = _ID_PREFIX.get(typ, "") + _hex(typ, name)
    if typ.startswith("aws:"):
        outputs.setdefault("arn", _aws_arn(ctx, typ, name, outputs))
    rule = _COMPUTED.get(typ)
    if rule is not None:
        outputs.update(rule(ctx, name, outputs))
    if typ.startswith("aws:iam/role:Role") or typ.startswith("aws:ecr/repository:"):
        resource_id = outputs["name"]
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
