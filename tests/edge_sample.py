"""A sample serving edge (two models, two clients) evaluated under the plan's mocks, for the edge tests and for
rendering its manifests (`python -m tests.edge_sample OUT_DIR [--global-limits]`, then `validate-manifests OUT_DIR`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from components.k8s.edge_gateway import ServingEdge, ServingEdgeArgs
from components.k8s.edge_spec import EdgeClient, EdgeTimeouts, GlobalLimits, RoutedModel
from components.k8s.serving_addon_values import namespace
from infra.plan.engine import ProgramEvaluation
from infra.plan.render import kubernetes_objects, plan_document, write_outputs
from tests.harness import run

MODELS_NAMESPACE = "llm-serving"
CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0b8f7a52-1111-2222-3333-444455556666"
PLANTED_KEYS = {
    "alice": ["sk-planted-alice-one-0123456789abcdef", "sk-planted-alice-two-0123456789abcdef"],
    "batch-jobs": ["sk-planted-batch-0123456789abcdef0123"],
}
SYSTEM_NODES = {"ai-serving/node-group": "system"}
MODELS = [
    RoutedModel(
        name="llama-8b",
        served_model_name="meta-llama/Llama-3.1-8B-Instruct",
        namespace=MODELS_NAMESPACE,
        selector_labels={"app.kubernetes.io/name": "llama-8b", "app.kubernetes.io/component": "vllm-server"},
    ),
    RoutedModel(
        name="qwen-7b",
        served_model_name="Qwen/Qwen2.5-7B-Instruct",
        namespace=MODELS_NAMESPACE,
        selector_labels={"app.kubernetes.io/name": "qwen-7b", "app.kubernetes.io/component": "vllm-server"},
    ),
]
CLIENTS = [EdgeClient("alice", 120), EdgeClient("batch-jobs", 600)]
GLOBAL_LIMITS = GlobalLimits(tokens_per_minute=20_000, requests_per_minute=300, redis_url="master.rl.abc123.use1.cache.amazonaws.com:6379")


def sample_args(depends_on: list[pulumi.Resource], global_limits: GlobalLimits | None = None) -> ServingEdgeArgs:
    return ServingEdgeArgs(
        host="llm.example.com",
        scheme="internet-facing",
        allowed_client_cidrs=["203.0.113.0/24", "198.51.100.0/24"],
        certificate_arn=CERTIFICATE_ARN,
        clients=CLIENTS,
        api_keys=pulumi.Output.secret(PLANTED_KEYS),
        models=MODELS,
        timeouts=EdgeTimeouts(request_seconds=900, stream_idle_seconds=300),
        max_request_body_kib=4096,
        replicas=2,
        system_node_selector=SYSTEM_NODES,
        tier="production",
        depends_on=depends_on,
        global_limits=global_limits,
    )


def evaluate_sample(global_limits: GlobalLimits | None = None) -> ProgramEvaluation:
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        # The models' namespace comes from ServingAddons in the program.
        models_ns = k8s.core.v1.Namespace(
            "models-ns", metadata=namespace(MODELS_NAMESPACE, "restricted")["metadata"], opts=pulumi.ResourceOptions(provider=provider)
        )
        ServingEdge("edge", sample_args([models_ns], global_limits), opts=pulumi.ResourceOptions(provider=provider))

    return run(program, region="us-east-1")


def write_sample(out_dir: Path, global_limits: GlobalLimits | None = None) -> None:
    evaluation = evaluate_sample(global_limits)
    write_outputs(out_dir, plan_document("ai-serving", "edge-sample", evaluation), kubernetes_objects(evaluation))


if __name__ == "__main__":
    write_sample(Path(sys.argv[1]), GLOBAL_LIMITS if "--global-limits" in sys.argv[2:] else None)
