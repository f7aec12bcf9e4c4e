import dataclasses
from typing import Any

import pulumi
import pytest

from catalogs.gcp_machines import GpuShape
from components.gcp.deploy_access import DeployAccess, group_instances_condition
from components.gcp.gpu_vm import GpuVm
from components.gcp.gpu_vm_args import AppSpec, DiskSpec, GpuVmArgs, ManagedGroupSpec
from components.gcp.vm_settings import instance_placements, scheduling
from infra.plan.engine import ProgramEvaluation, RecordedResource
from infra.pulumi_sdk import is_secret
from tests.harness import inputs, of_type, one, run

PROJECT = "example-ai-serving-staging"
SA_EMAIL = f"ai-serving-stg-vm@{PROJECT}.iam.gserviceaccount.com"
SA_MEMBER = f"serviceAccount:{SA_EMAIL}"
DEPLOYER = f"serviceAccount:ai-serving-stg-deploy@{PROJECT}.iam.gserviceaccount.com"
APP_ENV = "HF_TOKEN=hf_do_not_leak_me\nMODEL=qwen\n"
IMAGE = "us-central1-docker.pkg.dev/shared-artifacts/serving/vllm-server:v1"

INSTANCE = "gcp:compute/instance:Instance"
TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
GROUP = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"

ARGS = GpuVmArgs(
    project=PROJECT,
    region="us-central1",
    zones=["us-central1-a", "us-central1-c"],
    name_prefix="ai-serving-stg",
    tier="staging",
    network_self_link="https://www.googleapis.com/compute/v1/projects/p/global/networks/vpc",
    subnet_self_link="https://www.googleapis.com/compute/v1/projects/p/regions/us-central1/subnetworks/sub",
    shape=GpuShape("g2-standard-8", "nvidia-l4", 1),
    count=2,
    spot=False,
    spot_termination_action="STOP",
    boot_image="projects/ubuntu-os-accelerator-images/global/images/family/ubuntu-accelerator-2404-amd64-with-nvidia-580",
    boot_disk=DiskSpec(200, "pd-balanced"),
    app=AppSpec(IMAGE, 8000, "/health", 120, 1200),
    app_env=APP_ENV,
    deploy=DeployAccess(member=DEPLOYER, posix_user="sa_112233445566778899001"),
    labels={"team": "ml-platform", "app": "overridden?"},
)
GROUP_SPEC = ManagedGroupSpec(initial_delay_sec=1500, max_surge=2, max_unavailable=0)


def _run(**changes: Any) -> ProgramEvaluation:
    args = dataclasses.replace(ARGS, **changes)

    def program() -> None:
        GpuVm("gpu", dataclasses.replace(args, app_env=pulumi.Output.secret(args.app_env)))

    return run(program)


def _vm_configs(ev: ProgramEvaluation) -> list[dict[str, Any]]:
    """The instance inputs, or the instance template's when the VMs come from a managed group."""
    return [inputs(r) for r in of_type(ev, INSTANCE) + of_type(ev, TEMPLATE)]


@pytest.fixture(scope="module", params=["individual", "group"])
def fleet(request: pytest.FixtureRequest) -> ProgramEvaluation:
    return _run() if request.param == "individual" else _run(managed_group=GROUP_SPEC)


def test_gpu_vms_terminate_on_host_maintenance(fleet: ProgramEvaluation) -> None:
    for vm in _vm_configs(fleet):
        assert vm["scheduling"]["onHostMaintenance"] == "TERMINATE"


def test_shielded_vm_is_fully_on(fleet: ProgramEvaluation) -> None:
    for vm in _vm_configs(fleet):
        assert vm["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableVtpm": True, "enableIntegrityMonitoring": True}


def test_no_public_ip_and_no_ip_forwarding(fleet: ProgramEvaluation) -> None:
    for vm in _vm_configs(fleet):
        assert vm["canIpForward"] is False
        for nic in vm["networkInterfaces"]:
            assert "accessConfigs" not in nic and "ipv6AccessConfigs" not in nic


def test_os_login_on_project_keys_blocked_serial_port_off(fleet: ProgramEvaluation) -> None:
    for vm in _vm_configs(fleet):
        metadata = vm["metadata"]
        assert metadata["enable-oslogin"] == "TRUE"
        assert metadata["block-project-ssh-keys"] == "TRUE"
        assert metadata["serial-port-enable"] == "FALSE"
        assert "ssh-keys" not in metadata


def test_runs_as_its_own_service_account_never_the_default(fleet: ProgramEvaluation) -> None:
    account = inputs(one(fleet, "gcp:serviceaccount/account:Account"))
    assert account["accountId"] == "ai-serving-stg-vm"
    for vm in _vm_configs(fleet):
        assert vm["serviceAccount"]["email"] == SA_EMAIL
        assert not vm["serviceAccount"]["email"].endswith("-compute@developer.gserviceaccount.com")
        # cloud-platform only because Secret Manager accepts no other scope; IAM below is what limits the VM.
        assert vm["serviceAccount"]["scopes"] == ["https://www.googleapis.com/auth/cloud-platform"]


def test_service_account_holds_only_the_roles_the_server_needs(fleet: ProgramEvaluation) -> None:
    project_roles = sorted(inputs(r)["role"] for r in of_type(fleet, PROJECT_MEMBER) if inputs(r)["member"] == SA_MEMBER)
    assert project_roles == ["roles/logging.logWriter", "roles/monitoring.metricWriter"]
    registry = inputs(one(fleet, "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember"))
    assert (registry["project"], registry["location"], registry["repository"]) == ("shared-artifacts", "us-central1", "serving")
    assert (registry["role"], registry["member"]) == ("roles/artifactregistry.reader", SA_MEMBER)
    accessor = inputs(one(fleet, "gcp:secretmanager/secretIamMember:SecretIamMember"))
    assert (accessor["secretId"], accessor["role"], accessor["member"]) == (
        "ai-serving-stg-app-env",
        "roles/secretmanager.secretAccessor",
        SA_MEMBER,
    )


def test_app_env_is_a_secret_and_never_in_the_startup_script(fleet: ProgramEvaluation) -> None:
    version = one(fleet, "gcp:secretmanager/secretVersion:SecretVersion")
    assert is_secret(version.inputs["secretData"])
    assert "[secret]" in str(version.contract()["inputs"]["secretData"])
    for vm in _vm_configs(fleet):
        assert "hf_do_not_leak_me" not in vm["metadata"]["startup-script"]
        assert "secrets/${AI_SERVING_SECRET}/versions/latest:access" in vm["metadata"]["startup-script"]


def test_app_env_stays_secret_even_when_passed_as_plain_text() -> None:
    def program() -> None:
        GpuVm("gpu", ARGS)

    ev = run(program)
    assert is_secret(one(ev, "gcp:secretmanager/secretVersion:SecretVersion").inputs["secretData"])


def test_vms_wait_for_their_grants(fleet: ProgramEvaluation) -> None:
    needed = {r.urn for r in of_type(fleet, "gcp:secretmanager/secretIamMember:SecretIamMember")}
    needed |= {r.urn for r in of_type(fleet, "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")}
    for vm in of_type(fleet, INSTANCE) + of_type(fleet, TEMPLATE):
        assert needed <= set(vm.dependencies)


def test_labels_for_cost_tracking(fleet: ProgramEvaluation) -> None:
    for vm in _vm_configs(fleet):
        labels = vm["labels"]
        assert labels["app"] == "ai-serving"  # fixed keys win over configured ones
        assert (labels["tier"], labels["gpu"], labels["gpu-count"], labels["team"]) == ("staging", "nvidia-l4", "1", "ml-platform")


def test_firewall_targets_the_vm_service_account_and_never_the_world(fleet: ProgramEvaluation) -> None:
    rules = [inputs(r) for r in of_type(fleet, "gcp:compute/firewall:Firewall")]
    assert len(rules) == 2
    for rule in rules:
        assert rule["targetServiceAccounts"] == [SA_EMAIL]
        assert rule["direction"] == "INGRESS"
        assert "0.0.0.0/0" not in rule["sourceRanges"]
        assert "targetTags" not in rule
    by_port = {rule["allows"][0]["ports"][0]: rule["sourceRanges"] for rule in rules}
    assert by_port == {"22": ["35.235.240.0/20"], "8000": ["35.191.0.0/16", "130.211.0.0/22"]}


def test_individual_vms_spread_over_the_zones() -> None:
    ev = _run()
    assert sorted((inputs(r)["name"], inputs(r)["zone"]) for r in of_type(ev, INSTANCE)) == [
        ("ai-serving-stg-0", "us-central1-a"),
        ("ai-serving-stg-1", "us-central1-c"),
    ]
    assert instance_placements("p", ["a", "b"], 3) == [("p-0", "a"), ("p-1", "b"), ("p-2", "a")]


def test_spot_vms_have_a_termination_action_and_no_automatic_restart() -> None:
    ev = _run(spot=True, spot_termination_action="DELETE")
    for vm in _vm_configs(ev):
        assert vm["scheduling"]["provisioningModel"] == "SPOT"
        assert vm["scheduling"]["instanceTerminationAction"] == "DELETE"
        assert vm["scheduling"]["automaticRestart"] is False
        assert vm["scheduling"]["onHostMaintenance"] == "TERMINATE"
        assert vm["labels"]["provisioning"] == "spot"
    assert scheduling(False, "STOP") == {
        "provisioning_model": "STANDARD",
        "preemptible": False,
        "automatic_restart": True,
        "on_host_maintenance": "TERMINATE",
    }


def test_g2_gpus_come_with_the_machine_and_n1_lists_its_t4s() -> None:
    assert all("guestAccelerators" not in vm for vm in _vm_configs(_run()))
    n1 = _run(shape=GpuShape("n1-standard-16", "nvidia-tesla-t4", 2))
    assert [vm["guestAccelerators"] for vm in _vm_configs(n1)] == [[{"type": "nvidia-tesla-t4", "count": 2}]] * 2


def test_data_disk_is_a_separate_kept_disk_for_individual_vms() -> None:
    ev = _run(data_disk=DiskSpec(500, "pd-ssd"))
    disks = {inputs(r)["name"]: inputs(r) for r in of_type(ev, "gcp:compute/disk:Disk")}
    assert set(disks) == {"ai-serving-stg-0-model-cache", "ai-serving-stg-1-model-cache"}
    assert disks["ai-serving-stg-1-model-cache"]["zone"] == "us-central1-c"
    assert disks["ai-serving-stg-1-model-cache"]["size"] == 500 and disks["ai-serving-stg-1-model-cache"]["type"] == "pd-ssd"
    vm = inputs(one(ev, INSTANCE, "gpu-ai-serving-stg-1"))
    assert vm["attachedDisks"] == [
        {
            "deviceName": "model-cache",
            "source": f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/zones/us-central1-c/disks/ai-serving-stg-1-model-cache",
        }
    ]
    assert "google-model-cache" in vm["metadata"]["startup-script"]


def test_managed_group_autoheals_and_rolls_within_the_configured_budget() -> None:
    ev = _run(managed_group=GROUP_SPEC, data_disk=DiskSpec(300, "pd-balanced"))
    assert not of_type(ev, INSTANCE)
    group = inputs(one(ev, GROUP))
    check = inputs(one(ev, "gcp:compute/healthCheck:HealthCheck"))
    template = one(ev, TEMPLATE)
    assert group["distributionPolicyZones"] == ["us-central1-a", "us-central1-c"] and group["targetSize"] == 2
    # The group follows the exact template version (selfLinkUnique), so a template change rolls the VMs.
    assert [v["name"] for v in group["versions"]] == ["primary"]
    assert group["versions"][0]["instanceTemplate"].startswith(
        f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/instanceTemplates/ai-serving-stg-"
    )
    assert "?uniqueId=" in group["versions"][0]["instanceTemplate"]
    assert group["autoHealingPolicies"] == {
        "healthCheck": f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/healthChecks/ai-serving-stg-autoheal",
        "initialDelaySec": 1500,
    }
    assert check["httpHealthCheck"] == {"port": 8000, "requestPath": "/health"}
    policy = group["updatePolicy"]
    assert (policy["type"], policy["minimalAction"], policy["maxSurgeFixed"], policy["maxUnavailableFixed"]) == (
        "PROACTIVE",
        "REPLACE",
        2,
        0,
    )
    assert group["waitForInstances"] is False
    disks = inputs(template)["disks"]
    assert [d.get("deviceName") for d in disks] == [None, "model-cache"]
    assert disks[0]["boot"] is True and disks[1]["diskSizeGb"] == 300


def _deployer_grants(ev: ProgramEvaluation) -> list[RecordedResource]:
    return [r for r in ev.resources if r.custom and inputs(r).get("member") == DEPLOYER]


def test_deploy_identity_gets_ssh_over_iap_on_these_vms_only() -> None:
    ev = _run()
    grants = _deployer_grants(ev)
    roles = sorted((r.type, inputs(r)["role"]) for r in grants)
    assert roles == sorted(
        [
            ("gcp:compute/instanceIAMMember:InstanceIAMMember", "roles/compute.osLogin"),
            ("gcp:compute/instanceIAMMember:InstanceIAMMember", "roles/compute.osLogin"),
            ("gcp:iap/tunnelInstanceIAMMember:TunnelInstanceIAMMember", "roles/iap.tunnelResourceAccessor"),
            ("gcp:iap/tunnelInstanceIAMMember:TunnelInstanceIAMMember", "roles/iap.tunnelResourceAccessor"),
            ("gcp:serviceaccount/iAMMember:IAMMember", "roles/iam.serviceAccountUser"),
            (PROJECT_MEMBER, f"projects/{PROJECT}/roles/ai_serving_stg_deploy_ssh"),
        ]
    )
    assert {inputs(r)["instanceName"] for r in of_type(ev, "gcp:compute/instanceIAMMember:InstanceIAMMember")} == {
        "ai-serving-stg-0",
        "ai-serving-stg-1",
    }
    for tunnel in of_type(ev, "gcp:iap/tunnelInstanceIAMMember:TunnelInstanceIAMMember"):
        assert inputs(tunnel)["condition"]["expression"] == "destination.port == 22"
    sa_user = inputs(one(ev, "gcp:serviceaccount/iAMMember:IAMMember"))
    assert sa_user["serviceAccountId"] == f"projects/{PROJECT}/serviceAccounts/{SA_EMAIL}"
    read = inputs(one(ev, "gcp:projects/iAMCustomRole:IAMCustomRole"))
    assert sorted(read["permissions"]) == ["compute.instances.get", "compute.projects.get"]


def test_deploy_identity_never_gets_admin_roles() -> None:
    for ev in (_run(), _run(managed_group=GROUP_SPEC)):
        for grant in _deployer_grants(ev):
            role = inputs(grant)["role"]
            assert role not in {
                "roles/compute.osAdminLogin",
                "roles/compute.instanceAdmin.v1",
                "roles/compute.admin",
                "roles/owner",
                "roles/editor",
            }
            assert not (grant.type == PROJECT_MEMBER and role.startswith("roles/") and "condition" not in inputs(grant))


def test_group_vms_are_reached_through_conditional_project_bindings() -> None:
    ev = _run(managed_group=GROUP_SPEC)
    assert not of_type(ev, "gcp:compute/instanceIAMMember:InstanceIAMMember")
    os_login = next(inputs(r) for r in of_type(ev, PROJECT_MEMBER) if inputs(r)["role"] == "roles/compute.osLogin")
    assert os_login["member"] == DEPLOYER
    assert os_login["condition"]["expression"] == group_instances_condition(PROJECT, ["us-central1-a", "us-central1-c"], "ai-serving-stg")
    assert "instances/ai-serving-stg-')" in os_login["condition"]["expression"]
    tunnel = inputs(one(ev, "gcp:iap/tunnelIamMember:TunnelIamMember"))
    assert (tunnel["role"], tunnel["condition"]["expression"]) == ("roles/iap.tunnelResourceAccessor", "destination.port == 22")
    assert "compute.instanceGroupManagers.get" in inputs(one(ev, "gcp:projects/iAMCustomRole:IAMCustomRole"))["permissions"]


def test_deploy_user_is_allowed_its_helper_in_the_startup_script() -> None:
    script = _vm_configs(_run())[0]["metadata"]["startup-script"]
    assert "sa_112233445566778899001 ALL=(root) NOPASSWD: /usr/local/sbin/ai-serving-deploy" in script
    assert "NOPASSWD" not in _vm_configs(_run(deploy=None))[0]["metadata"]["startup-script"]
    assert not _deployer_grants(_run(deploy=None))


def test_group_condition_names_every_zone() -> None:
    condition = group_instances_condition("p-1", ["us-central1-a", "us-central1-b"], "web")
    assert condition == (
        "resource.type == 'compute.googleapis.com/Instance' && ("
        "resource.name.startsWith('projects/p-1/zones/us-central1-a/instances/web-') || "
        "resource.name.startsWith('projects/p-1/zones/us-central1-b/instances/web-'))"
    )
