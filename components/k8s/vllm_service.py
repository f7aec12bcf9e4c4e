"""One served model: the vLLM Rollout with its metric-gated canary, Services, HPA, PDB, NetworkPolicy,
ServiceAccount (with an IRSA role for S3 weights), serving record and PodMonitor.

The objects are built by the pure functions of `vllm_objects`, `vllm_pod` and `vllm_canary`; this only
registers them, in the order a first deploy needs (CRDs before custom resources).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws.irsa import irsa_role
from components.k8s.objects import custom_resource

from . import vllm_objects as objects
from .vllm_canary import analysis_template
from .vllm_model import S3Weights, VllmModel, resolved_model
from .vllm_pod import HTTP_PORT, PodContext


@dataclass(frozen=True)
class IrsaTrust:
    """The cluster's IAM OIDC provider, for a role that exactly one ServiceAccount may assume."""

    oidc_provider_arn: pulumi.Input[str]
    # As pulumi-eks reports it (https://oidc.eks.<region>.amazonaws.com/id/...).
    oidc_provider_url: pulumi.Input[str]
    # The stack's permissions boundary (GithubCiIdentity.permissions_boundary_arn), carried by every IRSA role.
    permissions_boundary: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class VllmServiceArgs:
    model: VllmModel
    namespace: str
    cluster_name: str
    prometheus_url: str
    monitoring_namespace: str
    client_namespaces: list[str] = field(default_factory=list)
    # Pods of other namespaces that may call the model (the edge's Envoy proxies).
    pod_peers: Sequence[objects.PodPeer] = ()
    # Secret (key "token") in `namespace` with the Hugging Face token; None for S3 weights.
    hf_token_secret: str | None = None
    # Required when the model comes from S3.
    irsa: IrsaTrust | None = None
    # The stack's ECR registry host (PullThroughCache.registry_host); required when the image is pulled through it.
    image_registry: pulumi.Input[str] | None = None
    # The Argo Rollouts CRDs and the Prometheus Operator CRDs (ServingAddons.rollouts_crds / monitoring_crds).
    rollouts_crds: Sequence[pulumi.Resource] = ()
    monitoring_crds: Sequence[pulumi.Resource] = ()
    # The namespace and the token Secret (ServingAddons.models_namespace_ready): every object waits for them.
    depends_on: Sequence[pulumi.Resource] = ()


def s3_read_policy(bucket: str, prefix: str) -> dict[str, Any]:
    """Read the objects under one prefix, and list that prefix only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadWeights", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"arn:aws:s3:::{bucket}/{prefix}/*"]},
            {
                "Sid": "ListWeights",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}"],
                "Condition": {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}},
            },
        ],
    }


def record_data(model: VllmModel, namespace: str) -> Mapping[str, str]:
    data: dict[str, str] = objects.serving_record(model, namespace)["data"]
    return data


class VllmService(pulumi.ComponentResource):
    endpoint: str
    rollout_name: str

    def __init__(self, name: str, args: VllmServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:k8s:VllmService", name, None, opts)
        model, ns = args.model, args.namespace
        names = objects.names_for(model)
        after = list(args.depends_on)
        child = pulumi.ResourceOptions(parent=self, depends_on=after)

        role_arn: pulumi.Output[str] | None = None
        if isinstance(model.weights, S3Weights):
            if args.irsa is None:
                raise ValueError(f"model {model.name} reads weights from S3 and needs the cluster's OIDC provider (VllmServiceArgs.irsa)")
            role_arn = self._weights_role(name, args, model.weights, args.irsa, names.service_account)

        sa = objects.service_account(model, ns, None)
        metadata: Any = sa["metadata"]
        if role_arn is not None:
            metadata = {**metadata, "annotations": {"eks.amazonaws.com/role-arn": role_arn}}
        k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=metadata, automount_service_account_token=role_arn is not None, opts=child)
        if model.image.through_cache and args.image_registry is None:
            raise ValueError(f"model {model.name}: its image is pulled through the cache and needs VllmServiceArgs.image_registry")
        # What only the deployed stack knows (its registry host): the pod template and the record are built from this.
        deployed = pulumi.Output.from_input(args.image_registry or "").apply(lambda host: resolved_model(model, host or None))
        record_meta: Any = objects.record_metadata(model, ns)
        k8s.core.v1.ConfigMap(
            f"{name}-record",
            metadata=record_meta,
            data=deployed.apply(lambda m: record_data(m, ns)),
            opts=child,
        )

        services = []
        for role, svc_name in (("all", names.service), ("stable", names.stable_service), ("canary", names.canary_service)):
            svc = objects.service(model, svc_name, ns, role)
            services.append(k8s.core.v1.Service(f"{name}-svc-{role}", metadata=svc["metadata"], spec=svc["spec"], opts=child))

        pdb = objects.pdb(model, ns)
        k8s.policy.v1.PodDisruptionBudget(f"{name}-pdb", metadata=pdb["metadata"], spec=pdb["spec"], opts=child)
        netpol = objects.network_policy(model, ns, args.monitoring_namespace, list(args.client_namespaces), args.pod_peers)
        k8s.networking.v1.NetworkPolicy(f"{name}-netpol", metadata=netpol["metadata"], spec=netpol["spec"], opts=child)

        template = analysis_template(model, names.analysis_template, ns, objects.common_labels(model), args.prometheus_url)
        gate = custom_resource(
            f"{name}-canary-gate", template, pulumi.ResourceOptions(parent=self, depends_on=[*after, *args.rollouts_crds])
        )
        ctx = PodContext(
            service_account=names.service_account, hf_token_secret=args.hf_token_secret, mounts_service_account_token=role_arn is not None
        )
        rollout_obj = objects.rollout(model, ns, ctx) if not model.image.through_cache else None
        rollout = k8s.apiextensions.CustomResource(
            f"{name}-rollout",
            api_version=objects.ROLLOUT_API,
            kind="Rollout",
            metadata=objects.rollout_metadata(model, ns),
            spec=rollout_obj["spec"] if rollout_obj is not None else deployed.apply(lambda m: objects.rollout(m, ns, ctx)["spec"]),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*after, *args.rollouts_crds, gate, *services]),
        )
        custom_resource(
            f"{name}-podmonitor",
            objects.pod_monitor(model, ns),
            pulumi.ResourceOptions(parent=self, depends_on=[*after, *args.monitoring_crds]),
        )
        autoscaler = objects.hpa(model, ns)
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=autoscaler["metadata"],
            spec=autoscaler["spec"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*after, rollout]),
        )

        self.endpoint = f"http://{names.service}.{ns}.svc:{HTTP_PORT}/v1"
        self.rollout_name = names.rollout
        self.register_outputs({"endpoint": self.endpoint, "rollout": self.rollout_name, "servedModelName": model.served_name})

    def _weights_role(
        self, name: str, args: VllmServiceArgs, weights: S3Weights, irsa: IrsaTrust, service_account: str
    ) -> pulumi.Output[str]:
        bucket, prefix = weights.bucket, weights.prefix
        role = irsa_role(
            f"{name}-weights-role",
            oidc_provider_arn=irsa.oidc_provider_arn,
            oidc_provider_url=irsa.oidc_provider_url,
            permissions_boundary=irsa.permissions_boundary,
            namespace=args.namespace,
            service_account=service_account,
            description=f"{args.cluster_name}: model {args.model.name} reads its weights from s3://{bucket}/{prefix}/",
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{name}-weights-read",
            role=role.name,
            policy=json.dumps(s3_read_policy(bucket, prefix)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return role.arn
