import pulumi_kubernetes as kubernetes
import pytest

from components.aws.eks_cluster import PREVIEW_GROUP
from components.k8s.preview_access import (
    POLICY_NAME,
    ROLE_NAME,
    TOKEN_REQUEST_DENIED,
    PreviewAccess,
    dry_run_only_binding,
    dry_run_only_policy,
    preview_cluster_role,
    preview_cluster_role_binding,
)
from tests.harness import one, run


def test_preview_group_cannot_touch_admission_policies() -> None:
    # Admission policies do not apply to admission-policy objects: any verb there would let the group remove the guard.
    for rule in preview_cluster_role()["rules"]:
        assert "admissionregistration.k8s.io" not in rule["apiGroups"]
        assert "*" not in rule["apiGroups"]
        assert not {"delete", "deletecollection", "impersonate", "*"} & set(rule["verbs"])


def test_binding_grants_the_role_to_the_preview_group_only() -> None:
    binding = preview_cluster_role_binding()
    assert binding["roleRef"]["name"] == ROLE_NAME
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": PREVIEW_GROUP}]


def test_guard_rejects_every_non_dry_run_write_of_the_group() -> None:
    spec = dry_run_only_policy()["spec"]
    assert spec["failurePolicy"] == "Fail"
    (rule,) = spec["matchConstraints"]["resourceRules"]
    assert rule["apiGroups"] == ["*"]
    assert set(rule["resources"]) == {"*", "*/*"}
    assert set(rule["operations"]) == {"CREATE", "UPDATE", "DELETE", "CONNECT"}
    (condition,) = spec["matchConditions"]
    assert f"'{PREVIEW_GROUP}' in request.userInfo.groups" in condition["expression"]
    dry_run, no_tokens = spec["validations"]
    assert dry_run["expression"] == "has(request.dryRun) && request.dryRun"
    # A dry-run TokenRequest still returns a real token: the group may not request tokens at all. The optional
    # subResource field is guarded with has(), or every request without one would fail evaluation (fail closed).
    assert no_tokens["expression"] == TOKEN_REQUEST_DENIED
    assert TOKEN_REQUEST_DENIED.startswith("!(has(request.subResource) && request.subResource == 'token'")
    assert "request.resource.resource == 'serviceaccounts'" in TOKEN_REQUEST_DENIED
    assert no_tokens["reason"] == dry_run["reason"] == "Forbidden"
    binding = dry_run_only_binding()["spec"]
    assert binding == {"policyName": POLICY_NAME, "validationActions": ["Deny"]}


def test_rbac_is_granted_only_after_the_guard_exists() -> None:
    def program() -> None:
        PreviewAccess("ci-preview", kubernetes.Provider("k8s", kubeconfig="{}"))

    ev = run(program)
    guard = one(ev, "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding")
    role = one(ev, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
    binding = one(ev, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")
    assert guard.urn in role.dependencies
    assert guard.urn in binding.dependencies
    assert one(ev, "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy").urn in guard.dependencies


def test_optional_components_add_their_api_groups_to_the_dry_run_rule() -> None:
    [rule, *_] = preview_cluster_role(["gateway.networking.k8s.io", "gateway.envoyproxy.io"])["rules"]
    assert rule["apiGroups"][-2:] == ["gateway.networking.k8s.io", "gateway.envoyproxy.io"]
    assert rule["verbs"] == ["create", "patch", "update"]


def test_admission_policies_can_never_be_added() -> None:
    def program() -> None:
        PreviewAccess("ci-preview", kubernetes.Provider("k8s", kubeconfig="{}"), extra_api_groups=["admissionregistration.k8s.io"])

    with pytest.raises(Exception, match="may not write admission policies"):
        run(program)
