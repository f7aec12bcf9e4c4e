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
from . import vllm_weights as weights
from .vllm_canary import analysis_template
from .vllm_model import S3Weights, StagedWeights, VllmModel, resolved_model
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
class WeightsBucket:
    bucket_name: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    region: str


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
    # Secret (key "token") in `namespace` with the Hugging Face token: mounted into the serving pods when they
    # download from the hub, into the staging Job when the weights are staged; None for S3 weights.
    hf_token_secret: str | None = None
    # Required when the model comes from S3.
    irsa: IrsaTrust | None = None
    # The stack's ECR registry host (PullThroughCache.registry_host); required when the image is pulled through it.
    image_registry: pulumi.Input[str] | None = None
    # The stack's model bucket (ModelWeightsBucket); required when the weights are staged.
    weights_bucket: WeightsBucket | None = None
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


def staged_read_policy(bucket: str, prefix: str, key_arn: str) -> dict[str, Any]:
    """The serving pods' role for staged weights: read the revision's prefix, decrypt with the bucket's key."""
    policy = s3_read_policy(bucket, prefix)
    return {**policy, "Statement": [*policy["Statement"], weights.reader_key_statement(key_arn)]}


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
        if model.weights_kind != "huggingface" and args.irsa is None:
            raise ValueError(f"model {model.name} reads weights from S3 and needs the cluster's OIDC provider (VllmServiceArgs.irsa)")
        if isinstance(model.weights, StagedWeights) and args.weights_bucket is None:
            raise ValueError(f"model {model.name} stages its weights and needs the stack's model bucket (VllmServiceArgs.weights_bucket)")
        if isinstance(model.weights, S3Weights) and args.irsa is not None:
            policy = pulumi.Output.from_input(json.dumps(s3_read_policy(model.weights.bucket, model.weights.prefix)))
            role_arn = self._weights_role(name, args, model.weights.uri, args.irsa, names.service_account, policy)
        bucket = args.weights_bucket
        if isinstance(model.weights, StagedWeights) and args.irsa is not None and bucket is not None:
            prefix = model.weights.prefix
            policy = pulumi.Output.all(bucket.bucket_name, bucket.kms_key_arn).apply(
                lambda v: json.dumps(staged_read_policy(v[0], prefix, v[1]))
            )
            role_arn = self._weights_role(
                name, args, f"models/{model.weights.repo_id}@{model.weights.revision}", args.irsa, names.service_account, policy
            )

        sa = objects.service_account(model, ns, None)
        metadata: Any = sa["metadata"]
        if role_arn is not None:
            metadata = {**metadata, "annotations": {"eks.amazonaws.com/role-arn": role_arn}}
        k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=metadata, automount_service_account_token=role_arn is not None, opts=child)
        if model.image.through_cache and args.image_registry is None:
            raise ValueError(f"model {model.name}: its image is pulled through the cache and needs VllmServiceArgs.image_registry")
        # What only the deployed stack knows (its registry host): the pod template and the record are built from this.
        deployed = pulumi.Output.all(args.image_registry or "", bucket.bucket_name if bucket else "").apply(
            lambda v: resolved_model(model, v[0] or None, v[1] or None)
        )
        staging_job = self._staging(name, args, deployed, child) if isinstance(model.weights, StagedWeights) else None
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
            service_account=names.service_account,
            hf_token_secret=args.hf_token_secret if model.weights_kind == "huggingface" else None,
            mounts_service_account_token=role_arn is not None,
        )
        resolved_later = model.image.through_cache or isinstance(model.weights, StagedWeights)
        rollout_obj = None if resolved_later else objects.rollout(model, ns, ctx)
        rollout = k8s.apiextensions.CustomResource(
            f"{name}-rollout",
            api_version=objects.ROLLOUT_API,
            kind="Rollout",
            metadata=objects.rollout_metadata(model, ns),
            spec=rollout_obj["spec"] if rollout_obj is not None else deployed.apply(lambda m: objects.rollout(m, ns, ctx)["spec"]),
            # Pods start only once their weights are staged.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*after, *args.rollouts_crds, gate, *services, *([staging_job] if staging_job else [])]
            ),
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
        self, name: str, args: VllmServiceArgs, what: str, irsa: IrsaTrust, service_account: str, policy: pulumi.Input[str]
    ) -> pulumi.Output[str]:
        role = irsa_role(
            f"{name}-weights-role",
            oidc_provider_arn=irsa.oidc_provider_arn,
            oidc_provider_url=irsa.oidc_provider_url,
            permissions_boundary=irsa.permissions_boundary,
            namespace=args.namespace,
            service_account=service_account,
            description=f"{args.cluster_name}: model {args.model.name} reads its weights ({what})",
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(f"{name}-weights-read", role=role.name, policy=policy, opts=pulumi.ResourceOptions(parent=self))
        return role.arn

    def _staging(
        self, name: str, args: VllmServiceArgs, deployed: pulumi.Output[VllmModel], child: pulumi.ResourceOptions
    ) -> k8s.batch.v1.Job:
        """The Job that copies the pinned revision into the bucket once, with its own write-only-there role."""
        model, ns, bucket, irsa = args.model, args.namespace, args.weights_bucket, args.irsa
        assert bucket is not None and irsa is not None and isinstance(model.weights, StagedWeights)
        sa_name = weights.stager_name(model)
        prefix = model.weights.prefix
        role = irsa_role(
            f"{name}-weights-stager-role",
            oidc_provider_arn=irsa.oidc_provider_arn,
            oidc_provider_url=irsa.oidc_provider_url,
            permissions_boundary=irsa.permissions_boundary,
            namespace=ns,
            service_account=sa_name,
            description=f"{args.cluster_name}: copies {model.weights.repo_id}@{model.weights.revision} into the model bucket",
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{name}-weights-stage",
            role=role.name,
            policy=pulumi.Output.all(bucket.bucket_name, bucket.kms_key_arn).apply(
                lambda v: json.dumps(weights.stager_policy(v[0], prefix, v[1]))
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        meta: Any = {**weights.script_config_map(model, ns)["metadata"], "annotations": {"eks.amazonaws.com/role-arn": role.arn}}
        sa = k8s.core.v1.ServiceAccount(f"{name}-weights-stager", metadata=meta, automount_service_account_token=True, opts=child)
        script = weights.script_config_map(model, ns)
        config = k8s.core.v1.ConfigMap(f"{name}-weights-stager", metadata=script["metadata"], data=script["data"], opts=child)
        netpol = weights.network_policy(model, ns)
        k8s.networking.v1.NetworkPolicy(f"{name}-weights-stager", metadata=netpol["metadata"], spec=netpol["spec"], opts=child)
        job_meta: Any = weights.job_metadata(model, ns)
        deadline = weights.attempt_deadline_seconds(model) * (weights.BACKOFF_LIMIT + 1)
        return k8s.batch.v1.Job(
            f"{name}-weights-job",
            metadata=job_meta,
            spec=deployed.apply(lambda m: weights.staging_job(m, ns, bucket.region, args.hf_token_secret)["spec"]),
            # pulumi-kubernetes waits for the Job to complete: as long as the Job itself may run, plus its start.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*args.depends_on, sa, config],
                custom_timeouts=pulumi.CustomTimeouts(create=f"{deadline + 600}s", update=f"{deadline + 600}s"),
            ),
        )
