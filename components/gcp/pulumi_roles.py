"""What the two identities that run Pulumi from GitHub Actions may do in the stack's GCP project.

`pulumi-preview` (reviewed pull requests, the scheduled drift check) reads; `pulumi-deploy` (`pulumi up` in the GitHub
environment of the stack) creates and updates the stack's resources. Never roles/owner or roles/editor. Which
workflows may impersonate either account is decided in pulumi_ci_identity.py.

The deploy account holds no role that manages identities project-wide (serviceAccountUser, serviceAccountAdmin,
roleAdmin, projectIamAdmin): it acts as the one service account it attaches (a binding on that account), and its
IAM permissions are a custom role (DEPLOY_IAM_PERMISSIONS) whose definition it cannot edit, bound with a condition
that limits the project grants it may change to the roles the stack grants (grant_limit_condition). docs/gcp.md has
the threat model.

Role references: https://cloud.google.com/iam/docs/roles-permissions (per service) and
https://cloud.google.com/compute/docs/access/iam.
"""

from __future__ import annotations

from collections.abc import Sequence

from .cel import cel_string_literal

# Read-only: enough for `pulumi preview --refresh` of every GCP resource the stack manages.
PULUMI_PREVIEW_ROLES = (
    # Metadata of the VPC, subnet, router/NAT, firewalls, VMs, disks, templates, groups, health checks,
    # service accounts and custom roles. Basic Viewer reads no secret payload.
    "roles/viewer",
    # getIamPolicy on the project, service accounts, instances, IAP tunnels and the secret: every IAM binding
    # the stack declares is refreshed by reading the policy it lives in.
    "roles/iam.securityReviewer",
    # Secret and secret-version metadata only. Deliberately not secretAccessor: refreshing a SecretVersion tries
    # to read the payload, and current terraform-provider-google releases (bridged by pulumi-gcp) keep the
    # state's value when that is denied; a version's payload never changes, so there is no drift to see in it.
    "roles/secretmanager.viewer",
    # The pool and provider, named explicitly rather than relying on what basic Viewer happens to include.
    "roles/iam.workloadIdentityPoolViewer",
)

# `pulumi up` of the stack: predefined roles for the resources that are not identities. Its IAM permissions are
# DEPLOY_IAM_PERMISSIONS, and actAs is granted on the VM service account only (pulumi_ci_identity.py).
PULUMI_DEPLOY_ROLES = (
    # VMs, disks, instance templates, regional managed instance groups, and OS Login grants on individual VMs.
    "roles/compute.instanceAdmin.v1",
    # VPC, subnet, Cloud Router + NAT, health checks (networkAdmin excludes firewall rules).
    "roles/compute.networkAdmin",
    # Firewall rules.
    "roles/compute.securityAdmin",
    # The secret, its versions and its accessor binding.
    "roles/secretmanager.admin",
    # IAP tunnel grants of the app deploy identity (per VM, or project-wide with an SSH-only condition).
    "roles/iap.admin",
    # Read only: the pool and provider decide which GitHub tokens are trusted at all. Like the AWS deploy role
    # (explicitly denied its own trust), `pulumi up` from CI cannot widen them; an administrator applies changes.
    "roles/iam.workloadIdentityPoolViewer",
)

# The deploy account's IAM permissions, as a custom role of the project (pulumi_ci_identity.py). Each is what a
# resource of the program needs during `pulumi up` from CI; identity changes are left to an administrator.
DEPLOY_IAM_PERMISSIONS = (
    # The stack's service accounts (VM, app deploy, the Pulumi accounts): read on refresh, and their display
    # name and description updated in place. Not create, delete or setIamPolicy: a new account is useless until
    # someone may act as it or impersonate it, and who may is exactly the decision kept from CI (see below), so
    # adding, replacing or removing an account is an administrator's `pulumi up`. Deleting would also reach every
    # account of the project, not only the stack's.
    "iam.serviceAccounts.get",
    "iam.serviceAccounts.list",
    "iam.serviceAccounts.update",
    # Refresh of the bindings on the accounts (workloadIdentityUser, serviceAccountUser). Not setIamPolicy:
    # project-wide it would let the account grant itself actAs or token creation on any service account.
    "iam.serviceAccounts.getIamPolicy",
    # Project IAM bindings (the VM account's log/metric writer, the app deploy identity's OS Login and read role),
    # limited by grant_limit_condition to the roles the stack grants; the project itself is read by the provider.
    "resourcemanager.projects.get",
    "resourcemanager.projects.getIamPolicy",
    "resourcemanager.projects.setIamPolicy",
    # Refresh of the custom roles (the app deploy read role, this one). No iam.roles.create/update/delete/undelete:
    # a role the account may grant must not be one whose permissions it may change.
    "iam.roles.get",
    "iam.roles.list",
)

# Kept from the deploy account (tested absent from DEPLOY_IAM_PERMISSIONS): each would let it change its own custom
# role, act as or impersonate another account, or add, replace or remove one.
WITHHELD_PERMISSIONS = frozenset(
    {
        "iam.roles.create",
        "iam.roles.update",
        "iam.roles.delete",
        "iam.roles.undelete",
        "iam.serviceAccounts.setIamPolicy",
        "iam.serviceAccounts.actAs",
        "iam.serviceAccounts.getAccessToken",
        "iam.serviceAccounts.signJwt",
        "iam.serviceAccounts.signBlob",
        "iam.serviceAccountKeys.create",
        "iam.serviceAccounts.create",
        "iam.serviceAccounts.delete",
    }
)

# Predefined roles that must never reach either Pulumi identity on the project, nor be grantable by pulumi-deploy.
FORBIDDEN_ROLES = frozenset({"roles/owner", "roles/editor"})
IDENTITY_ADMIN_ROLES = frozenset(
    {
        "roles/iam.serviceAccountUser",
        "roles/iam.serviceAccountAdmin",
        "roles/iam.serviceAccountTokenCreator",
        "roles/iam.serviceAccountKeyAdmin",
        "roles/iam.roleAdmin",
        "roles/iam.securityAdmin",
        "roles/resourcemanager.projectIamAdmin",
    }
)
SERVICE_ACCOUNT_USER_ROLE = "roles/iam.serviceAccountUser"


def deploy_iam_role_id(name_prefix: str) -> str:
    """Id of the custom role holding DEPLOY_IAM_PERMISSIONS (role ids allow no dashes)."""
    return f"{name_prefix.replace('-', '_')}_pulumi_deploy_iam"


def grant_limit_condition(grantable_roles: Sequence[str], *, never_grantable: Sequence[str] = ()) -> str:
    """IAM condition for the binding of the role carrying resourcemanager.projects.setIamPolicy: every binding a
    setIamPolicy call adds or removes must be of one of these roles. Calls that change no binding, and the role's
    other permissions, see the empty default list, which hasOnly accepts
    (https://cloud.google.com/iam/docs/setting-limits-on-granting-roles). `never_grantable`: roles of the caller's
    own bindings (its custom role), refused like the predefined escalating ones."""
    roles = list(dict.fromkeys(grantable_roles))
    if not roles:
        raise ValueError("at least one grantable role is required")
    refused = FORBIDDEN_ROLES | IDENTITY_ADMIN_ROLES | set(PULUMI_DEPLOY_ROLES) | set(never_grantable)
    escalating = [r for r in roles if r in refused]
    if escalating:
        raise ValueError(f"pulumi up must not be able to grant {escalating}")
    listed = ", ".join(cel_string_literal(r) for r in roles)
    return f"api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly([{listed}])"
