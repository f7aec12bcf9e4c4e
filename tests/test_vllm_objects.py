"""The spec -> Kubernetes object functions of one served model (pod, canary, autoscaling, policies)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from catalogs.gpu_scheduling import GPU_PRESENT_LABEL, NODE_GROUP_LABEL, gpu_toleration
from components.k8s import vllm_objects as objects
from components.k8s.vllm_canary import (
    analysis_template,
    canary_steps,
    default_canary_weights,
    effective_canary_steps,
)
from components.k8s.vllm_model import CanaryStep, VllmModel
from components.k8s.vllm_pod import (
    PRESTOP_SLEEP_SECONDS,
    STARTUP_PROBE_PERIOD_SECONDS,
    PodContext,
    pod_template,
    termination_grace_seconds,
    vllm_args,
)
from infra.args.serving import vllm_model
from infra.config.serving import ModelConfig
from tests.harness import stack_config

NS = "llm-serving"
PROM = "http://prometheus.monitoring.svc:9090"


def _spec(stack: str = "production", **changes: Any) -> VllmModel:
    """A model of a checked-in stack file, with changes, as the stack program hands it to the component."""
    raw = {**stack_config(stack)["models"][0], **changes}
    return vllm_model(ModelConfig.model_validate(raw))


def _ctx(spec: VllmModel, hf: str | None = "huggingface-token", irsa: bool = False) -> PodContext:
    return PodContext(service_account=objects.names_for(spec).service_account, hf_token_secret=hf, mounts_service_account_token=irsa)


def _pod(spec: VllmModel, ctx: PodContext | None = None) -> dict[str, Any]:
    pod: dict[str, Any] = pod_template(spec, ctx or _ctx(spec), objects.pod_labels(spec), objects.selector_labels(spec), {})["spec"]
    return pod


def _container(spec: VllmModel, ctx: PodContext | None = None) -> dict[str, Any]:
    container: dict[str, Any]
    [container] = _pod(spec, ctx)["containers"]
    return container


@pytest.mark.parametrize("weights_gib", [0.5, 2.9, 14.2, 140])
def test_startup_probe_window_is_derived_from_the_cold_start_budget(weights_gib: float) -> None:
    spec = _spec(weightsGib=weights_gib)
    probe = _container(spec)["startupProbe"]
    window = spec.cold_start.startup_window_seconds
    assert probe["periodSeconds"] == STARTUP_PROBE_PERIOD_SECONDS
    assert probe["periodSeconds"] * probe["failureThreshold"] >= window
    assert probe["periodSeconds"] * (probe["failureThreshold"] - 1) < window


def test_bigger_weights_get_a_longer_startup_window_and_progress_deadline() -> None:
    small, big = _spec(weightsGib=2), _spec(weightsGib=40)
    assert _container(big)["startupProbe"]["failureThreshold"] > _container(small)["startupProbe"]["failureThreshold"]
    deadline = [objects.rollout(s, NS, _ctx(s))["spec"]["progressDeadlineSeconds"] for s in (small, big)]
    assert deadline[1] > deadline[0]


def test_probes_use_vllm_health_on_the_api_port() -> None:
    c = _container(_spec())
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert c["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]


def test_gpus_are_requested_and_limited() -> None:
    spec = _spec(gpusPerReplica=2, vllm={**stack_config("production")["models"][0]["vllm"], "tensorParallelSize": 2})
    res = _container(spec)["resources"]
    assert res["requests"]["nvidia.com/gpu"] == res["limits"]["nvidia.com/gpu"] == "2"
    assert "--tensor-parallel-size=2" in vllm_args(spec)


def test_cpu_and_memory_requests_equal_limits() -> None:
    res = _container(_spec(resources={"cpu": 2.5, "memoryGib": 12, "shmSizeGib": 2}))["resources"]
    assert res["requests"] == res["limits"]
    assert (res["limits"]["cpu"], res["limits"]["memory"]) == ("2500m", "12Gi")


def test_pod_tolerates_the_gpu_taint_and_selects_its_node_group() -> None:
    pod = _pod(_spec(nodeGroup="gpu-l40s"))
    assert pod["tolerations"] == [gpu_toleration()]
    assert pod["nodeSelector"] == {NODE_GROUP_LABEL: "gpu-l40s", GPU_PRESENT_LABEL: "true"}


def test_shm_is_a_memory_emptydir_with_a_size_limit_inside_the_memory_limit() -> None:
    spec = _spec(resources={"cpu": 6, "memoryGib": 48, "shmSizeGib": 4})
    pod = _pod(spec)
    [shm] = [v for v in pod["volumes"] if v["name"] == "shm"]
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "4Gi"}
    assert {"name": "shm", "mountPath": "/dev/shm"} in pod["containers"][0]["volumeMounts"]
    assert int(pod["containers"][0]["resources"]["limits"]["memory"].removesuffix("Gi")) > 4


def test_pod_runs_non_root_read_only_without_capabilities() -> None:
    pod = _pod(_spec())
    sc = pod["containers"][0]["securityContext"]
    assert sc["runAsNonRoot"] and sc["runAsUser"] >= 10000 and sc["readOnlyRootFilesystem"]
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsUser"] >= 10000
    assert pod["automountServiceAccountToken"] is False


def test_writable_paths_are_per_pod_emptydirs() -> None:
    pod = _pod(_spec())
    mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    for path in (env["HOME"], env["HF_HOME"], env["VLLM_CACHE_ROOT"], "/tmp"):
        mount = next(m for m in mounts if path == m or path.startswith(m + "/"))
        assert "emptyDir" in volumes[mounts[mount]] and "sizeLimit" in volumes[mounts[mount]]["emptyDir"]


def test_hf_token_comes_from_the_secret_as_a_file() -> None:
    pod = _pod(_spec())
    c = pod["containers"][0]
    [volume] = [v for v in pod["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"] == "huggingface-token"
    [mount] = [m for m in c["volumeMounts"] if m["name"] == volume["name"]]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["HF_TOKEN_PATH"].startswith(mount["mountPath"] + "/") and mount["readOnly"]
    assert "HF_TOKEN" not in env


def test_no_token_volume_without_a_token_secret() -> None:
    spec = _spec(source="s3://weights-bucket/qwen/7b/", revision=None)
    pod = _pod(spec, _ctx(spec, hf=None, irsa=True))
    assert not [v for v in pod["volumes"] if "secret" in v]
    assert pod["automountServiceAccountToken"] is True
    assert "--load-format=runai_streamer" in vllm_args(spec)


@pytest.mark.parametrize("drain", [0, 60, 120, 900])
def test_grace_period_covers_prestop_and_drain(drain: int) -> None:
    spec = _spec(drainSeconds=drain)
    pod = _pod(spec)
    assert pod["terminationGracePeriodSeconds"] == termination_grace_seconds(spec) >= PRESTOP_SLEEP_SECONDS + drain
    assert pod["containers"][0]["lifecycle"]["preStop"] == {"sleep": {"seconds": PRESTOP_SLEEP_SECONDS}}
    assert f"--shutdown-timeout={drain}" in vllm_args(spec)


def test_vllm_args_are_typed_settings_then_extra_args() -> None:
    spec = _spec(
        revision="a1b2c3d",
        vllm={"tensorParallelSize": 1, "maxModelLen": 4096, "quantization": "fp8", "enablePrefixCaching": False, "extraArgs": ["--seed=7"]},
    )
    args = vllm_args(spec)
    assert args[0] == spec.weights.uri
    for expected in (
        "--max-model-len=4096",
        "--quantization=fp8",
        "--no-enable-prefix-caching",
        "--revision=a1b2c3d",
        "--served-model-name=qwen2.5-7b-instruct",
    ):
        assert expected in args
    assert args[-1] == "--seed=7"


def test_image_pinned_by_digest_in_production_by_tag_in_staging() -> None:
    prod, staging = _spec("production"), _spec("staging")
    assert "@sha256:" in _container(prod)["image"] and _container(prod)["imagePullPolicy"] == "IfNotPresent"
    assert _container(staging)["image"] == "vllm/vllm-openai:v0.18.0" and _container(staging)["imagePullPolicy"] == "Always"
    # The checkov waiver for the missing digest exists only where there is no digest, and says why.
    assert "annotations" not in objects.rollout(prod, NS, _ctx(prod))["metadata"]
    waiver = objects.rollout(staging, NS, _ctx(staging))["metadata"]["annotations"]["checkov.io/skip1"]
    assert waiver.startswith("CKV_K8S_43=") and "production requires a digest" in waiver


def test_rollout_leaves_replicas_to_the_hpa_and_surges_the_canary() -> None:
    spec = _spec()
    r = objects.rollout(spec, NS, _ctx(spec))
    assert "replicas" not in r["spec"]
    canary = r["spec"]["strategy"]["canary"]
    assert (canary["maxSurge"], canary["maxUnavailable"]) == (1, 0)
    assert (canary["stableService"], canary["canaryService"]) == ("qwen-7b-stable", "qwen-7b-canary")
    assert r["spec"]["selector"]["matchLabels"] == objects.selector_labels(spec)
    assert r["spec"]["progressDeadlineAbort"] is True
    assert r["spec"]["rollbackWindow"] == {"revisions": 3} and r["spec"]["revisionHistoryLimit"] >= 3
    # A new pod on a new node: node boot and image pull come on top of what the startup probe allows.
    assert r["spec"]["progressDeadlineSeconds"] == spec.cold_start.progress_deadline_seconds
    assert r["spec"]["progressDeadlineSeconds"] > spec.cold_start.startup_window_seconds + spec.cold_start.node_boot_seconds
    # The selector ignores the version, so a new version is a new ReplicaSet of the same Rollout.
    assert objects.VERSION_LABEL not in objects.selector_labels(spec)
    assert r["spec"]["template"]["metadata"]["labels"][objects.VERSION_LABEL] == spec.version


def test_default_canary_steps_come_from_the_replica_count() -> None:
    two = canary_steps(_spec(replicas={"min": 2, "max": 6}), "gate")
    assert [s.get("setWeight") for s in two] == [50, None]
    four = canary_steps(_spec(replicas={"min": 4, "max": 6}), "gate")
    assert [next(iter(s)) for s in four] == ["setWeight", "analysis", "setWeight", "analysis"]
    assert [s["setWeight"] for s in four if "setWeight" in s] == [25, 50]
    analysis = four[1]["analysis"]
    assert analysis["templates"] == [{"templateName": "gate"}]
    assert analysis["args"] == [{"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}}]


def test_configured_pauses_render_as_durations_or_manual_promotion() -> None:
    spec = _spec(canary={"steps": [{"setWeight": 10}, {"pause": 300}, {"setWeight": 30}, {"pause": 0}, {"analysis": True}]})
    assert canary_steps(spec, "gate")[:4] == [{"setWeight": 10}, {"pause": {"duration": "300s"}}, {"setWeight": 30}, {"pause": {}}]


def test_analysis_fails_above_the_thresholds_and_pauses_without_traffic() -> None:
    spec = _spec(
        canary={"analysis": {"intervalSeconds": 120, "count": 4, "failureLimit": 1, "maxErrorRatio": 0.02, "maxP95TtftSeconds": 1.5}}
    )
    template = analysis_template(spec, "qwen-7b-canary-gate", NS, {}, PROM)
    assert template["spec"]["args"] == [{"name": "canary-hash"}]
    metrics = {m["name"]: m for m in template["spec"]["metrics"]}
    errors, ttft = metrics["error-ratio"], metrics["ttft-p95-seconds"]
    assert (errors["successCondition"], errors["failureCondition"]) == ("result <= 0.02", "result > 0.02")
    assert (ttft["successCondition"], ttft["failureCondition"]) == ("result <= 1.5", "result > 1.5")
    for m in (errors, ttft):
        assert (m["initialDelay"], m["interval"], m["count"], m["failureLimit"]) == ("120s", "120s", 4, 1)
        # Without traffic most measurements are NaN: inconclusive (pause for a human), never a silent pass.
        assert m["inconclusiveLimit"] < m["count"]
        # What the queries select and measure is read as PromQL in test_metric_queries.py.
        assert m["provider"]["prometheus"]["address"] == PROM


def test_hpa_targets_the_rollout_on_the_queue_metric() -> None:
    spec = _spec(replicas={"min": 2, "max": 6}, autoscaling={"targetWaitingRequestsPerPod": 2.5})
    hpa = objects.hpa(spec, NS)["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "qwen-7b"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    [metric] = hpa["metrics"]
    assert metric["pods"] == {"metric": {"name": "vllm_num_requests_waiting"}, "target": {"type": "AverageValue", "averageValue": "2500m"}}


def test_hpa_behavior_is_slow_for_gpu_pods() -> None:
    spec = _spec(autoscaling={"scaleUpPeriodSeconds": 90, "scaleDownStabilizationSeconds": 1200})
    behavior = objects.hpa(spec, NS)["spec"]["behavior"]
    assert behavior["scaleUp"]["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 90}]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 1200
    assert all(p["value"] == 1 for p in behavior["scaleDown"]["policies"])


def test_pdb_never_blocks_a_drain() -> None:
    spec = _spec()
    pdb = objects.pdb(spec, NS)["spec"]
    assert pdb == {
        "maxUnavailable": 1,
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
        "selector": {"matchLabels": objects.selector_labels(spec)},
    }


def test_network_policy_opens_the_api_port_to_named_namespaces_only() -> None:
    spec = _spec()
    policy = objects.network_policy(spec, NS, "monitoring", ["chat-frontend"])["spec"]
    [ingress] = policy["ingress"]
    assert ingress["ports"] == [{"protocol": "TCP", "port": 8000}]
    namespaces = [p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for p in ingress["from"] if "namespaceSelector" in p]
    assert namespaces == ["monitoring", "chat-frontend"]
    https = policy["egress"][1]
    assert https["ports"] == [{"protocol": "TCP", "port": 443}] and "169.254.169.254/32" in https["to"][0]["ipBlock"]["except"]


def test_network_policy_admits_given_pods_of_other_namespaces_only_by_their_labels() -> None:
    proxies = objects.PodPeer("envoy-gateway-system", {"app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy"})
    [ingress] = objects.network_policy(_spec(), NS, "monitoring", [], [proxies])["spec"]["ingress"]
    peer = ingress["from"][-1]
    # Both selectors in one peer: those pods of that namespace, not the whole namespace nor such pods anywhere.
    assert peer == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "envoy-gateway-system"}},
        "podSelector": {"matchLabels": proxies.labels},
    }
    assert ingress["ports"] == [{"protocol": "TCP", "port": 8000}]


def test_services_select_all_model_pods() -> None:
    spec = _spec()
    for role in ("all", "stable", "canary"):
        svc = objects.service(spec, f"x-{role}", NS, role)
        assert svc["spec"]["selector"] == objects.selector_labels(spec)
        assert svc["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}]


def test_services_do_not_wait_for_pods_the_rollout_creates_later() -> None:
    # pulumi-kubernetes otherwise waits 10 min for ready endpoints, but the Rollout is applied after its Services
    # and its pods take up to modelLoadTimeoutSeconds: every first deploy would fail.
    spec = _spec()
    for role in ("all", "stable", "canary"):
        assert objects.service(spec, f"x-{role}", NS, role)["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}


def test_service_account_mounts_a_token_only_for_irsa() -> None:
    spec = _spec()
    assert objects.service_account(spec, NS, None)["automountServiceAccountToken"] is False
    irsa = objects.service_account(spec, NS, "arn:aws:iam::123456789012:role/r")
    assert irsa["automountServiceAccountToken"] is True
    assert irsa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/r"}


def test_serving_record_says_what_runs() -> None:
    spec = _spec()
    data = objects.serving_record(spec, NS)["data"]
    assert (data["model"], data["version"], data["source"]) == ("qwen-7b", "v1", "Qwen/Qwen2.5-7B-Instruct")
    assert json.loads(data["vllmArgs"]) == vllm_args(spec)
    assert data["image"] == spec.image.reference and data["vllmArgsSha256"] == objects.args_digest(spec)


def test_pod_monitor_labels_series_with_the_canary_hash() -> None:
    spec = _spec()
    monitor = objects.pod_monitor(spec, NS)["spec"]
    assert "rollouts-pod-template-hash" in monitor["podTargetLabels"]
    assert monitor["podMetricsEndpoints"][0]["port"] == "http"
    assert monitor["selector"]["matchLabels"] == objects.selector_labels(spec)


@pytest.mark.parametrize(("replicas", "weights"), [(1, [50]), (2, [50]), (3, [34, 50]), (4, [25, 50]), (10, [10, 50]), (100, [1, 50])])
def test_default_canary_starts_with_one_pod_then_half(replicas: int, weights: list[int]) -> None:
    assert default_canary_weights(replicas) == weights


def test_default_steps_follow_each_weight_with_an_analysis() -> None:
    steps = effective_canary_steps(_spec(replicas={"min": 4, "max": 6}))
    assert steps == [CanaryStep(set_weight=25), CanaryStep(analysis=True), CanaryStep(set_weight=50), CanaryStep(analysis=True)]


@pytest.mark.parametrize("replicas", range(1, 101))
def test_default_canary_is_always_gated(replicas: int) -> None:
    """The config's production rule ("at least one analysis step") checks configured steps only, relying on this."""
    steps = effective_canary_steps(_spec(replicas={"min": replicas, "max": 100}))
    assert steps[-1] == CanaryStep(analysis=True)
    assert all(steps[i + 1].analysis for i, s in enumerate(steps) if s.set_weight is not None)


def test_configured_steps_replace_the_default() -> None:
    spec = _spec("staging", canary={"steps": [{"setWeight": 10}, {"pause": 0}, {"analysis": True}]})
    assert effective_canary_steps(spec) == [CanaryStep(set_weight=10), CanaryStep(pause=0), CanaryStep(analysis=True)]
