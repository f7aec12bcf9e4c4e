"""Which input changes force a new resource, per resource type the program declares, each with its source.

The diff decides "replace" rather than "update" from this table, as `pulumi preview` does from the provider's
schema. Paths are camelCase input paths as plan.json shows them; a rule matches a change at the path or below it
("*" matches any input). A type missing here is a test failure (tests/test_plan_diff.py), so a new resource type
cannot slip in unclassified.

Sources: the Terraform provider docs pages the Pulumi AWS and GCP providers are bridged from ("(Forces new
resource)" / "Changing this forces a new resource to be created"), the Kubernetes API reference for immutable
fields, and the pulumi-kubernetes provider for its own replacement rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TF_AWS = "https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/"
_TF_GCP = "https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/"
_K8S_API = "https://kubernetes.io/docs/reference/kubernetes-api/"
# pulumi-kubernetes replaces an object whose name or namespace changes, and (unless the provider sets
# enableConfigMapMutable / enableSecretMutable, which this program does not) a ConfigMap or Secret whose data changes.
_PULUMI_K8S = "https://www.pulumi.com/registry/packages/kubernetes/api-docs/provider/ (enableConfigMapMutable, enableSecretMutable)"
_K8S_NAME = "Kubernetes API: metadata.name and metadata.namespace identify an object and cannot be changed (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/)"
_IAM_MEMBER = "every argument forces a new resource (IAM member bindings are never updated in place)"


@dataclass(frozen=True)
class ReplaceRule:
    """When a resource of one type is replaced, and what a replacement loses."""

    paths: tuple[str, ...]
    source: str
    # What is gone when the resource is replaced or deleted (stateful resources only).
    loses: str | None = None
    # A component: its children are planned on their own, it is never replaced itself.
    component: bool = False
    # The input the provider would otherwise generate (auto-naming); when set explicitly and unchanged, the provider
    # deletes the old resource before creating its replacement (see DELETE_BEFORE_REPLACE_SOURCE).
    name_input: str | None = None
    # Numeric inputs that may grow in place but whose decrease forces a new resource.
    shrink_replaces: tuple[str, ...] = ()


DELETE_BEFORE_REPLACE_SOURCE = (
    "pulumi-terraform-bridge sets delete-before-replace for a resource whose auto-nameable property is set explicitly "
    "(https://github.com/pulumi/pulumi-terraform/pull/465); pulumi-kubernetes does the same for an object whose "
    "metadata.name is set and unchanged (https://github.com/pulumi/pulumi-terraform/issues/383)"
)


def _aws(page: str, *paths: str, loses: str | None = None, name_input: str | None = None) -> ReplaceRule:
    return ReplaceRule(paths, f"{_TF_AWS}{page} (Forces new resource)", loses=loses, name_input=name_input)


def _gcp(page: str, *paths: str, loses: str | None = None, name_input: str | None = None, shrink: tuple[str, ...] = ()) -> ReplaceRule:
    return ReplaceRule(
        paths, f"{_TF_GCP}{page} (Changing this forces a new resource)", loses=loses, name_input=name_input, shrink_replaces=shrink
    )


def _iam_member(page: str) -> ReplaceRule:
    return ReplaceRule(("*",), f"{_TF_GCP}{page}: {_IAM_MEMBER}")


def _component(what: str) -> ReplaceRule:
    return ReplaceRule((), f"ai-serving component ({what}); its children are planned and replaced on their own", component=True)


_COMPONENTS = {
    f"ai-serving:{area}:{name}": _component(f"components/{area}")
    for area, names in {
        "aws": (
            "EdgeCertificate",
            "EksAddons",
            "EksCluster",
            "GithubCiIdentity",
            "ImageRepository",
            "ModelWeightsBucket",
            "Network",
            "NodeGroups",
            "PullThroughCache",
            "StackBudget",
            "StateBackend",
            "VpcFlowLogs",
        ),
        "gcp": ("GithubWorkloadIdentity", "GpuVm", "Network", "ProjectBudget", "PulumiCiIdentity"),
        "k8s": (
            "ArgoCd",
            "ClusterLogs",
            "EdgeControllers",
            "GpuAddons",
            "PreviewAccess",
            "RolloutVerdictAccess",
            "ServingAddons",
            "ServingEdge",
            "VllmService",
        ),
    }.items()
    for name in names
}

_NODES_LOST = "its nodes (drained and terminated: pods are rescheduled, and the capacity is gone until the new group's nodes join)"
_LOGS_LOST = "every log event stored in the group"

AWS: dict[str, ReplaceRule] = {
    # The budget's name identifies it (accountId and name force a new one); replacing it restarts its alert state.
    "aws:budgets/budget:Budget": _aws("budgets_budget", "accountId", "name", "namePrefix", name_input="name"),
    "aws:acm/certificate:Certificate": _aws("acm_certificate", "domainName", "subjectAlternativeNames", "keyAlgorithm"),
    "aws:acm/certificateValidation:CertificateValidation": _aws("acm_certificate_validation", "certificateArn", "validationRecordFqdns"),
    "aws:autoscaling/tag:Tag": _aws("autoscaling_group_tag", "autoscalingGroupName", "tag"),
    "aws:cloudwatch/logGroup:LogGroup": _aws("cloudwatch_log_group", "name", "namePrefix", loses=_LOGS_LOST, name_input="name"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": _aws("default_security_group", "vpcId"),
    "aws:ec2/eip:Eip": _aws("eip", "domain", "publicIpv4Pool", loses="the public IP address (a new one is allocated)"),
    "aws:ec2/flowLog:FlowLog": _aws(
        "flow_log",
        "iamRoleArn",
        "logDestination",
        "logDestinationType",
        "trafficType",
        "vpcId",
        "subnetId",
        "logFormat",
        "maxAggregationInterval",
    ),
    "aws:ec2/internetGateway:InternetGateway": _aws("internet_gateway"),
    "aws:ec2/launchTemplate:LaunchTemplate": _aws("launch_template", "name", "namePrefix", name_input="name"),
    "aws:ec2/natGateway:NatGateway": _aws("nat_gateway", "allocationId", "subnetId", "connectivityType", "privateIp"),
    "aws:ec2/routeTable:RouteTable": _aws("route_table", "vpcId"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _aws("route_table_association", "subnetId", "gatewayId"),
    "aws:ec2/subnet:Subnet": _aws("subnet", "availabilityZone", "availabilityZoneId", "cidrBlock", "vpcId"),
    "aws:ec2/vpc:Vpc": _aws("vpc", "cidrBlock", "ipv4IpamPoolId", "ipv4NetmaskLength"),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": _aws("ecr_lifecycle_policy", "repository"),
    "aws:ecr/repository:Repository": _aws(
        "ecr_repository", "name", "encryptionConfigurations", loses="every image pushed to the repository", name_input="name"
    ),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": _aws("ecr_repository_policy", "repository"),
    "aws:ecr/pullThroughCacheRule:PullThroughCacheRule": _aws(
        "ecr_pull_through_cache_rule", "ecrRepositoryPrefix", "upstreamRegistryUrl", "upstreamRepositoryPrefix"
    ),
    # One setting per account and region: every argument is updated in place.
    "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration": _aws("ecr_registry_scanning_configuration"),
    "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate": _aws("ecr_repository_creation_template", "prefix"),
    "aws:secretsmanager/secret:Secret": _aws(
        "secretsmanager_secret",
        "name",
        "namePrefix",
        loses="the secret and its versions (after the recovery window); whatever reads it by ARN breaks",
        name_input="name",
    ),
    "aws:secretsmanager/secretVersion:SecretVersion": _aws("secretsmanager_secret_version", "secretId", "secretString", "secretBinary"),
    "aws:eks/addon:Addon": _aws("eks_addon", "addonName", "clusterName"),
    "aws:eks/nodeGroup:NodeGroup": _aws(
        "eks_node_group",
        "amiType",
        "capacityType",
        "clusterName",
        "diskSize",
        "instanceTypes",
        "launchTemplate.id",
        "launchTemplate.name",
        "nodeGroupName",
        "nodeGroupNamePrefix",
        "nodeRoleArn",
        "remoteAccess",
        "subnetIds",
        loses=_NODES_LOST,
    ),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _aws("iam_openid_connect_provider", "url"),
    "aws:iam/policy:Policy": _aws("iam_policy", "name", "namePrefix", "path", "description", name_input="name"),
    "aws:iam/role:Role": _aws("iam_role", "name", "namePrefix", "path", name_input="name"),
    "aws:iam/rolePolicy:RolePolicy": _aws("iam_role_policy", "name", "namePrefix", "role", name_input="name"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _aws("iam_role_policy_attachment", "role", "policyArn"),
    "aws:kms/alias:Alias": _aws("kms_alias", "name", "namePrefix", name_input="name"),
    "aws:kms/key:Key": _aws(
        "kms_key",
        "customerMasterKeySpec",
        "keySpec",
        "keyUsage",
        "multiRegion",
        "customKeyStoreId",
        "xksKeyId",
        loses="the key material: whatever it encrypted (EKS secrets, logs, images) cannot be decrypted once the old key is deleted",
    ),
    "aws:route53/record:Record": _aws("route53_record", "name", "zoneId", "setIdentifier"),
    # The Pulumi state backend (bootstrap/, its own program): the bucket and its settings.
    "aws:s3/bucket:Bucket": _aws(
        "s3_bucket",
        "bucket",
        "bucketPrefix",
        "objectLockEnabled",
        loses="every object in the bucket: the Pulumi state (and its history) of every stack kept there",
        name_input="bucket",
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _aws(
        "s3_bucket_lifecycle_configuration", "bucket", "expectedBucketOwner"
    ),
    "aws:s3/bucketLogging:BucketLogging": _aws("s3_bucket_logging", "bucket", "expectedBucketOwner"),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _aws("s3_bucket_ownership_controls", "bucket"),
    "aws:s3/bucketPolicy:BucketPolicy": _aws("s3_bucket_policy", "bucket"),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _aws("s3_bucket_public_access_block", "bucket"),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _aws(
        "s3_bucket_server_side_encryption_configuration", "bucket", "expectedBucketOwner"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": _aws("s3_bucket_versioning", "bucket", "expectedBucketOwner"),
    # A pulumi-eks component: the plan does not see its children, so a change that replaces the EKS cluster inside
    # it (aws_eks_cluster: name, encryption_config; subnets are updatable since terraform-provider-aws 5.25.0) is
    # shown on the component.
    "eks:index:Cluster": ReplaceRule(
        ("name", "encryptionConfigKeyArn"),
        f"{_TF_AWS}eks_cluster (name, encryption_config: Forces new resource) via pulumi-eks "
        "(https://www.pulumi.com/registry/packages/eks/api-docs/cluster/)",
        loses="the whole cluster: every workload, Kubernetes Secret and cluster-scoped object in it",
    ),
}

_DISK_LOST = "the disk's data (the model cache is downloaded again)"

GCP: dict[str, ReplaceRule] = {
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": _iam_member("artifact_registry_repository_iam"),
    "gcp:billing/budget:Budget": _gcp("billing_budget", "billingAccount"),
    "gcp:monitoring/notificationChannel:NotificationChannel": _gcp("monitoring_notification_channel", "project", "type"),
    "gcp:compute/disk:Disk": _gcp(
        "compute_disk",
        "name",
        "project",
        "zone",
        "type",
        "image",
        "snapshot",
        "diskEncryptionKey",
        loses=_DISK_LOST,
        name_input="name",
        shrink=("size",),
    ),
    "gcp:compute/firewall:Firewall": _gcp("compute_firewall", "name", "project", "network", "direction", name_input="name"),
    "gcp:compute/healthCheck:HealthCheck": _gcp("compute_health_check", "name", "project", name_input="name"),
    "gcp:compute/instance:Instance": _gcp(
        "compute_instance",
        "name",
        "project",
        "zone",
        "bootDisk.initializeParams",
        "bootDisk.diskEncryptionKeyRaw",
        "hostname",
        "metadataStartupScript",
        "scratchDisks",
        loses="the VM and its boot disk (an attached data disk of its own is kept)",
        name_input="name",
    ),
    # Instance templates are immutable: any change makes a new template (namePrefix: auto-named, create first).
    "gcp:compute/instanceIAMMember:InstanceIAMMember": _iam_member("compute_instance_iam"),
    "gcp:compute/instanceTemplate:InstanceTemplate": _gcp("compute_instance_template", "*"),
    "gcp:compute/network:Network": _gcp("compute_network", "name", "project", "autoCreateSubnetworks", "description", name_input="name"),
    "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": _gcp(
        "compute_region_instance_group_manager",
        "name",
        "project",
        "region",
        "baseInstanceName",
        "distributionPolicyZones",
        loses="its VMs (recreated from the template)",
        name_input="name",
    ),
    "gcp:compute/router:Router": _gcp("compute_router", "name", "project", "region", "network", name_input="name"),
    "gcp:compute/routerNat:RouterNat": _gcp("compute_router_nat", "name", "project", "region", "router", name_input="name"),
    "gcp:compute/subnetwork:Subnetwork": _gcp("compute_subnetwork", "name", "project", "region", "network", name_input="name"),
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": _gcp(
        "iam_workload_identity_pool",
        "workloadIdentityPoolId",
        "project",
        loses="the pool id: a deleted pool's id stays reserved for 30 days",
    ),
    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": _gcp(
        "iam_workload_identity_pool_provider",
        "workloadIdentityPoolId",
        "workloadIdentityPoolProviderId",
        "project",
        loses="the provider id: a deleted provider's id stays reserved for 30 days",
    ),
    "gcp:iap/tunnelIamMember:TunnelIamMember": _iam_member("iap_tunnel_iam"),
    "gcp:iap/tunnelInstanceIAMMember:TunnelInstanceIAMMember": _iam_member("iap_tunnel_instance_iam"),
    "gcp:projects/iAMCustomRole:IAMCustomRole": _gcp("google_project_iam_custom_role", "roleId", "project"),
    "gcp:projects/iAMMember:IAMMember": _iam_member("google_project_iam"),
    "gcp:secretmanager/secret:Secret": _gcp(
        "secret_manager_secret", "secretId", "project", "replication", loses="every version of the secret"
    ),
    "gcp:secretmanager/secretIamMember:SecretIamMember": _iam_member("secret_manager_secret_iam"),
    "gcp:secretmanager/secretVersion:SecretVersion": _gcp("secret_manager_secret_version", "secret", "secretData"),
    "gcp:serviceaccount/account:Account": _gcp("google_service_account", "accountId", "project"),
    "gcp:serviceaccount/iAMMember:IAMMember": _iam_member("google_service_account_iam"),
}

_K8S_OBJECT_PATHS = ("metadata.name", "metadata.namespace")

# Fields beyond name and namespace that Kubernetes (or pulumi-kubernetes) does not update in place.
_K8S_IMMUTABLE: dict[str, ReplaceRule] = {
    "apps/v1:Deployment": ReplaceRule(
        ("spec.selector",), f"{_K8S_API}workload-resources/deployment-v1/: spec.selector is immutable in apps/v1"
    ),
    "batch/v1:Job": ReplaceRule(
        ("spec.template", "spec.selector", "spec.completions"),
        f"{_K8S_API}workload-resources/job-v1/: spec.template and spec.selector are immutable (completions too, outside elastic indexed Jobs)",
    ),
    "apps/v1:DaemonSet": ReplaceRule(
        ("spec.selector",), f"{_K8S_API}workload-resources/daemon-set-v1/: spec.selector is immutable in apps/v1"
    ),
    "argoproj.io/v1alpha1:Rollout": ReplaceRule(
        ("spec.selector",),
        "https://argo-rollouts.readthedocs.io/en/stable/features/specification/: spec.selector, as a Deployment's, selects "
        "the ReplicaSets the Rollout owns and must not change",
    ),
    "core/v1:Service": ReplaceRule(
        ("spec.clusterIP", "spec.clusterIPs"), f"{_K8S_API}service-resources/service-v1/: spec.clusterIP is immutable once set"
    ),
    "core/v1:ConfigMap": ReplaceRule(
        ("data", "binaryData", "immutable"), f"{_PULUMI_K8S}; {_K8S_API}config-and-storage-resources/config-map-v1/"
    ),
    "core/v1:Secret": ReplaceRule(
        ("data", "stringData", "type", "immutable"), f"{_PULUMI_K8S}; {_K8S_API}config-and-storage-resources/secret-v1/ (type is immutable)"
    ),
    "rbac.authorization.k8s.io/v1:RoleBinding": ReplaceRule(
        ("roleRef",), f"{_K8S_API}authorization-resources/role-binding-v1/: roleRef cannot be changed"
    ),
    "rbac.authorization.k8s.io/v1:ClusterRoleBinding": ReplaceRule(
        ("roleRef",), f"{_K8S_API}authorization-resources/cluster-role-binding-v1/: roleRef cannot be changed"
    ),
    "gateway.networking.k8s.io/v1:GatewayClass": ReplaceRule(
        ("spec.controllerName",), "https://gateway-api.sigs.k8s.io/reference/spec/#gatewayclassspec: controllerName is immutable"
    ),
}

# Objects whose every field besides name and namespace may be updated in place (the API reference names no other
# immutable field of these kinds).
_K8S_UPDATABLE = (
    "admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
    "admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
    "aigateway.envoyproxy.io/v1beta1:AIGatewayRoute",
    "argoproj.io/v1alpha1:AnalysisTemplate",
    "argoproj.io/v1alpha1:AppProject",
    "argoproj.io/v1alpha1:Application",
    "autoscaling/v2:HorizontalPodAutoscaler",
    "core/v1:Namespace",
    "core/v1:ServiceAccount",
    "gateway.envoyproxy.io/v1alpha1:BackendTrafficPolicy",
    "gateway.envoyproxy.io/v1alpha1:ClientTrafficPolicy",
    "gateway.envoyproxy.io/v1alpha1:EnvoyProxy",
    "gateway.envoyproxy.io/v1alpha1:SecurityPolicy",
    "gateway.networking.k8s.io/v1:Gateway",
    "inference.networking.k8s.io/v1:InferencePool",
    "monitoring.coreos.com/v1:PodMonitor",
    "monitoring.coreos.com/v1:PrometheusRule",
    "networking.k8s.io/v1:NetworkPolicy",
    "policy/v1:PodDisruptionBudget",
    "rbac.authorization.k8s.io/v1:ClusterRole",
    "rbac.authorization.k8s.io/v1:Role",
)

KUBERNETES: dict[str, ReplaceRule] = {
    f"kubernetes:{kind}": ReplaceRule(_K8S_OBJECT_PATHS + rule.paths, f"{_K8S_NAME}; {rule.source}", name_input="metadata.name")
    for kind, rule in _K8S_IMMUTABLE.items()
} | {f"kubernetes:{kind}": ReplaceRule(_K8S_OBJECT_PATHS, _K8S_NAME, name_input="metadata.name") for kind in _K8S_UPDATABLE}

KUBERNETES |= {
    "kubernetes:helm.sh/v3:Release": ReplaceRule(
        ("name", "namespace"),
        "https://www.pulumi.com/registry/packages/kubernetes/api-docs/helm/v3/release/: a Helm release is identified by "
        "its name and namespace (helm upgrade cannot rename or move it); chart, version and values are upgraded in place",
        name_input="name",
    ),
    "kubernetes:yaml/v2:ConfigGroup": ReplaceRule(
        (),
        "https://www.pulumi.com/registry/packages/kubernetes/api-docs/yaml/v2/configgroup/: a component; its objects are planned on their own",
        component=True,
    ),
    # A new kubeconfig means another cluster: pulumi-kubernetes replaces the provider, and with it its objects.
    "pulumi:providers:kubernetes": ReplaceRule(
        ("kubeconfig",),
        "https://www.pulumi.com/registry/packages/kubernetes/api-docs/provider/: objects follow the provider to the cluster its "
        "kubeconfig names; a changed cluster replaces them",
    ),
}

FORCE_NEW: dict[str, ReplaceRule] = _COMPONENTS | AWS | GCP | KUBERNETES


def rule_for(resource_type: str) -> ReplaceRule | None:
    return FORCE_NEW.get(resource_type)


_INDEX = re.compile(r"\[\d+\]")


def path_forces_new(rule: ReplaceRule, path: str) -> bool:
    """Whether a change at input `path` (e.g. `launchTemplate.id`, `instanceTypes[0]`) is one the rule replaces on."""
    bare = _INDEX.sub("", path)
    return any(p == "*" or bare == p or bare.startswith(f"{p}.") for p in rule.paths)
