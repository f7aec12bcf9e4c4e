"""What the two identities that run Pulumi from GitHub Actions may do in the stack's GCP project.

`pulumi-preview` (pull requests, the scheduled drift check) reads; `pulumi-deploy` (`pulumi up` in the GitHub
environment of the stack) creates and updates the stack's resources. Predefined roles only, never roles/owner or
roles/editor. Which workflows may impersonate either account is decided in pulumi_ci_identity.py.

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

# `pulumi up` of the stack. Powerful by nature: a stack that creates service accounts and IAM bindings can grant
# what it declares. Narrowed where GCP allows it: see PROJECT_IAM_ADMIN_ROLE and the pool viewer below.
PULUMI_DEPLOY_ROLES = (
    # VMs, disks, instance templates, regional managed instance groups, and OS Login grants on individual VMs.
    "roles/compute.instanceAdmin.v1",
    # VPC, subnet, Cloud Router + NAT, health checks (networkAdmin excludes firewall rules).
    "roles/compute.networkAdmin",
    # Firewall rules.
    "roles/compute.securityAdmin",
    # Service accounts (VM, app deploy) and their IAM policies (serviceAccountUser for the app deploy identity,
    # workloadIdentityUser bindings).
    "roles/iam.serviceAccountAdmin",
    # actAs: creating a VM or template that runs as the VM service account requires it.
    "roles/iam.serviceAccountUser",
    # The app deploy identity's custom read role (<prefix>_deploy_ssh).
    "roles/iam.roleAdmin",
    # The secret, its versions and its accessor binding.
    "roles/secretmanager.admin",
    # IAP tunnel grants of the app deploy identity (per VM, or project-wide with an SSH-only condition).
    "roles/iap.admin",
    # Read only: the pool and provider decide which GitHub tokens are trusted at all. Like the AWS deploy role
    # (explicitly denied its own trust), `pulumi up` from CI cannot widen them; an administrator applies changes.
    "roles/iam.workloadIdentityPoolViewer",
)

# Project IAM bindings (the VM's log/metric writer, the app deploy identity's grants). Granted with a condition
# that limits which roles it may grant or revoke: see grant_limit_condition.
PROJECT_IAM_ADMIN_ROLE = "roles/resourcemanager.projectIamAdmin"

# Roles that must never reach either Pulumi identity, nor be grantable by pulumi-deploy.
FORBIDDEN_ROLES = frozenset({"roles/owner", "roles/editor"})


def grant_limit_condition(grantable_roles: Sequence[str]) -> str:
    """IAM condition for PROJECT_IAM_ADMIN_ROLE: every binding change must concern only these roles
    (https://cloud.google.com/iam/docs/setting-limits-on-granting-roles)."""
    roles = list(dict.fromkeys(grantable_roles))
    if not roles:
        raise ValueError("at least one grantable role is required")
    escalating = [r for r in roles if r in FORBIDDEN_ROLES or r == PROJECT_IAM_ADMIN_ROLE or r in PULUMI_DEPLOY_ROLES]
    if escalating:
        raise ValueError(f"pulumi up must not be able to grant {escalating}")
    listed = ", ".join(cel_string_literal(r) for r in roles)
    return f"api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly([{listed}])"
