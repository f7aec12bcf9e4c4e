"""Pod and node logs kept in CloudWatch Logs: two log groups the program creates (KMS-encrypted, retention from
config) and Fluent Bit (the pinned aws-for-fluent-bit chart) on every node shipping into them with an IRSA role
that may only write log streams of those two groups.

- `/aws/eks/<cluster>/pods`: every container's stdout/stderr, one stream per namespace, pod and container
  (`<namespace>.<pod>.<container>`), each record carrying the pod's Kubernetes metadata and labels (so a model is
  found by `app.kubernetes.io/name`).
- `/aws/eks/<cluster>/nodes`: the kubelet's, containerd's and the kernel's journal, one stream per node and unit.

Why not Loki: it needs an S3 bucket, its own KMS key and lifecycle, a multi-component deployment to run and
upgrade, and still a collector; CloudWatch Logs keeps logs with no server to run, and the groups follow the same
pattern as the control-plane and flow logs. Why this chart and not the amazon-cloudwatch-observability add-on: the
add-on brings an operator, admission webhooks, the CloudWatch agent, Application Signals and a second DCGM exporter;
only its Fluent Bit is needed here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as kubernetes

from catalogs.image_registries import cached_reference
from catalogs.platform_namespaces import LOGGING_NAMESPACE
from components.aws.eks_cluster import partition_of
from components.aws.encrypted_log_group import EncryptedLogGroupSpec, encrypted_log_group
from components.aws.irsa import irsa_role

from .charts import Chart, pinned_release

FLUENT_BIT = Chart("aws-for-fluent-bit", "0.2.0", "https://aws.github.io/eks-charts", LOGGING_NAMESPACE)
FLUENT_BIT_SERVICE_ACCOUNT = "fluent-bit"
# The image the pinned chart defaults to.
FLUENT_BIT_IMAGE = "public.ecr.aws/aws-observability/aws-for-fluent-bit:3.2.1"
# The journal units collected from every node.
NODE_UNITS = ("kubelet.service", "containerd.service")


def pod_log_group(cluster_name: str) -> str:
    return f"/aws/eks/{cluster_name}/pods"


def node_log_group(cluster_name: str) -> str:
    return f"/aws/eks/{cluster_name}/nodes"


def fluent_bit_policy(partition: str, region: str, account_id: str, log_groups: Sequence[str]) -> dict[str, Any]:
    """Write log streams of the given groups only: no group creation, no retention change, no reading."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WriteClusterLogStreams",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                # `:*` covers the group's log streams (PutLogEvents is authorised on the stream).
                "Resource": [f"arn:{partition}:logs:{region}:{account_id}:log-group:{group}:*" for group in log_groups],
            }
        ],
    }


def _node_journal_inputs() -> str:
    """systemd inputs tagged `node.<unit>` (the `*` becomes the unit), and the kernel's messages as `node.kernel`."""
    units = "\n".join(f"    Systemd_Filter  _SYSTEMD_UNIT={unit}" for unit in NODE_UNITS)
    return (
        "[INPUT]\n"
        "    Name            systemd\n"
        "    Tag             node.*\n"
        f"{units}\n"
        "    Path            /var/log/journal\n"
        "    DB              /var/log/flb_node_journal.db\n"
        "    Read_From_Tail  On\n"
        "    Strip_Underscores On\n"
        "[INPUT]\n"
        "    Name            systemd\n"
        "    Tag             node.kernel\n"
        "    Systemd_Filter  _TRANSPORT=kernel\n"
        "    Path            /var/log/journal\n"
        "    DB              /var/log/flb_node_kernel.db\n"
        "    Read_From_Tail  On\n"
        "    Strip_Underscores On\n"
    )


def _node_kernel_filter() -> str:
    """Kernel records have no unit: name one, so they get a per-node stream like the units' records."""
    return "[FILTER]\n    Name    modify\n    Match   node.kernel\n    Add     SYSTEMD_UNIT kernel\n"


def _node_output(region: str, group: str) -> str:
    return (
        "[OUTPUT]\n"
        "    Name                cloudwatch_logs\n"
        "    Match               node.*\n"
        f"    region              {region}\n"
        f"    log_group_name      {group}\n"
        # One stream per node and source; the prefix + tag when a record lacks the fields.
        "    log_stream_prefix   node.\n"
        "    log_stream_template $HOSTNAME.$SYSTEMD_UNIT\n"
        "    auto_create_group   false\n"
    )


def chart_image(image: str) -> tuple[str, str]:
    """`repository:tag[@digest]` as the chart's repository and tag: it renders `<repository>:<tag>`, so a digest
    rides on the tag (`3.2.1@sha256:...`)."""
    name, at, digest = image.partition("@")
    repository, _, tag = name.rpartition(":")
    return repository, tag + at + digest


def fluent_bit_values(cluster_name: str, region: str, role_arn: str, image: str) -> dict[str, Any]:
    repository, tag = chart_image(image)
    return {
        "fullnameOverride": "fluent-bit",
        "image": {"repository": repository, "tag": tag, "pullPolicy": "IfNotPresent"},
        "serviceAccount": {"create": True, "name": FLUENT_BIT_SERVICE_ACCOUNT, "annotations": {"eks.amazonaws.com/role-arn": role_arn}},
        # Container logs (the chart's tail input on /var/log/containers, tagged kube.*) with Kubernetes metadata.
        "input": {"enabled": True},
        "filter": {"enabled": True, "match": "kube.*"},
        "cloudWatchLogs": {
            "enabled": True,
            "match": "kube.*",
            "region": region,
            "logGroupName": pod_log_group(cluster_name),
            "logStreamPrefix": "pod.",
            "logStreamTemplate": "$kubernetes['namespace_name'].$kubernetes['pod_name'].$kubernetes['container_name']",
            # The groups are the program's (encryption, retention): Fluent Bit must never create or change one.
            "autoCreateGroup": False,
        },
        "additionalInputs": _node_journal_inputs(),
        "additionalFilters": _node_kernel_filter(),
        "additionalOutputs": _node_output(region, node_log_group(cluster_name)),
        # Every node, GPU nodes (tainted) included.
        "tolerations": [{"operator": "Exists"}],
        "priorityClassName": "system-node-critical",
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        # Root to read the host's log files and journal (root-owned); nothing else.
        "podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containerSecurityContext": {"allowPrivilegeEscalation": False},
    }


def logging_namespace() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": LOGGING_NAMESPACE,
            # Fluent Bit mounts the host's /var/log (hostPath): only "privileged" allows it; the namespace holds nothing else.
            "labels": {"pod-security.kubernetes.io/enforce": "privileged", "app.kubernetes.io/part-of": "ai-serving"},
        },
    }


@dataclass(frozen=True)
class ClusterLogsArgs:
    cluster_name: str
    region: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]
    # A CloudWatch retention value (the config validates it), for both groups.
    retention_days: int
    tags: dict[str, str]
    # Production: the log groups and their keys survive `pulumi destroy` and cannot be replaced by accident.
    protect: bool
    # Fluent Bit's image: FLUENT_BIT_IMAGE, with the stack's digest in production (platformImageDigests).
    image: str = FLUENT_BIT_IMAGE
    # The stack's ECR registry host when the image's registry is pulled through the stack's cache (same tag and digest).
    image_registry: pulumi.Input[str] | None = None
    # The stack's permissions boundary, carried by the Fluent Bit role.
    permissions_boundary: pulumi.Input[str] | None = None
    # Nodes for the DaemonSet's pods.
    depends_on: Sequence[pulumi.Resource] = ()


class ClusterLogs(pulumi.ComponentResource):
    pod_log_group_name: pulumi.Output[str]
    node_log_group_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterLogsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:k8s:ClusterLogs", name, None, opts)
        partition = partition_of(args.region)
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id
        cluster = args.cluster_name
        groups = []
        for kind, group_name, what in (("pods", pod_log_group(cluster), "Container"), ("nodes", node_log_group(cluster), "Node journal")):
            spec = EncryptedLogGroupSpec(
                log_group_name=group_name,
                retention_days=args.retention_days,
                alias_name=f"{cluster}-{kind}-logs",
                description=f"{what} logs of EKS cluster {cluster}",
                partition=partition,
                region=args.region,
                tags=args.tags,
                protect=args.protect,
            )
            groups.append(encrypted_log_group(f"{name}-{kind}", spec, account_id, self))

        role = irsa_role(
            f"{name}-fluent-bit",
            oidc_provider_arn=args.oidc_provider_arn,
            oidc_provider_url=args.oidc_provider_url,
            namespace=LOGGING_NAMESPACE,
            service_account=FLUENT_BIT_SERVICE_ACCOUNT,
            description="Fluent Bit: write pod and node logs of this cluster to CloudWatch Logs",
            permissions_boundary=args.permissions_boundary,
            opts=pulumi.ResourceOptions(parent=self),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-fluent-bit",
            role=role.name,
            policy=account_id.apply(
                lambda a: json.dumps(
                    fluent_bit_policy(partition, args.region, a, [pod_log_group(cluster), node_log_group(cluster)]), sort_keys=True
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Kubernetes children use the provider the caller passes in `providers`; AWS children the default one.
        on_cluster = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        namespace = kubernetes.core.v1.Namespace(f"{name}-ns", metadata=logging_namespace()["metadata"], opts=on_cluster)
        registry = pulumi.Output.from_input(args.image_registry) if args.image_registry is not None else pulumi.Output.from_input("")
        values = pulumi.Output.all(role.arn, registry).apply(
            lambda resolved: fluent_bit_values(
                cluster, args.region, resolved[0], cached_reference(resolved[1], args.image) if resolved[1] else args.image
            )
        )
        pinned_release(
            self,
            name,
            FLUENT_BIT,
            values,
            # Groups first: with auto_create_group off, Fluent Bit would drop records for a group that does not exist.
            [*args.depends_on, namespace, policy, *groups],
        )
        self.pod_log_group_name = groups[0].name
        self.node_log_group_name = groups[1].name
        self.role_arn = role.arn
        self.register_outputs({"podLogGroup": self.pod_log_group_name, "nodeLogGroup": self.node_log_group_name, "roleArn": self.role_arn})
