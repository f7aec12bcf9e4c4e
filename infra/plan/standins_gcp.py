"""GCP stand-ins: self links, service account identities, workload identity and secret names."""

from __future__ import annotations

from typing import Any

from .standin_context import GCP_PROJECT_NUMBER, ComputedRule, Context, stable_hex

_COMPUTE_API = "https://www.googleapis.com/compute/v1"


def _gcp_digits(*parts: str, length: int) -> str:
    return str(int(stable_hex(*parts, length=32), 16))[:length]


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


GCP_COMPUTED: dict[str, ComputedRule] = {
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
