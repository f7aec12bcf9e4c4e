"""The smoke test: one OpenAI-compatible completion against a model's stable Service, from a short-lived Job in
the models' namespace, judged from the Job pod's log.

A Job (not a port-forward) so that the request takes the path clients take: cluster DNS, the stable Service,
and the model's NetworkPolicy, which admits the smoke-test pod by its labels (components/k8s/vllm_objects.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from components.k8s.vllm_objects import SMOKE_TEST_LABELS

# curl 8.11.1 (the multi-arch index digest): small, runs as uid 100, no shell needed.
SMOKE_IMAGE = "curlimages/curl:8.11.1@sha256:c1fe1679c34d9784c1b0d1e5f62ac0a79fca01fb6377cdd33e90473c6f9f9a69"
SMOKE_UID = 100
RESULT_MARKER = "ai-serving-smoke-result"
_RESULT = re.compile(rf"^{RESULT_MARKER} status=(\d{{3}}) seconds=([0-9.]+)$", re.MULTILINE)
PROMPT = "Reply with the single word: ready"


@dataclass(frozen=True)
class SmokeSpec:
    model: str
    served_name: str
    namespace: str
    stable_service: str
    port: int
    max_tokens: int = 8
    max_seconds: float = 30.0
    # SMOKE_IMAGE, or the same tag and digest through the stack's ECR pull-through cache.
    image: str = SMOKE_IMAGE

    @property
    def url(self) -> str:
        return f"http://{self.stable_service}.{self.namespace}.svc:{self.port}/v1/completions"


def smoke_job(spec: SmokeSpec, job_name: str) -> dict[str, Any]:
    body = json.dumps({"model": spec.served_name, "prompt": PROMPT, "max_tokens": spec.max_tokens, "temperature": 0})
    labels = {**SMOKE_TEST_LABELS, "app.kubernetes.io/name": spec.model, "app.kubernetes.io/part-of": "ai-serving"}
    timeout = int(spec.max_seconds) + 5
    container_security = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": SMOKE_UID,
        "capabilities": {"drop": ["ALL"]},
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job_name, "namespace": spec.namespace, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": timeout + 120,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    # The pod calls one Service; it needs no Kubernetes API token.
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": SMOKE_UID, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [
                        {
                            "name": "smoke",
                            "image": spec.image,
                            "imagePullPolicy": "IfNotPresent",
                            "args": [
                                "--silent",
                                "--show-error",
                                "--max-time",
                                str(timeout),
                                "--header",
                                "Content-Type: application/json",
                                "--data",
                                body,
                                "--write-out",
                                f"\\n{RESULT_MARKER} status=%{{http_code}} seconds=%{{time_total}}\\n",
                                spec.url,
                            ],
                            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
                            "securityContext": container_security,
                        }
                    ],
                },
            },
        },
    }


@dataclass(frozen=True)
class SmokeResult:
    ok: bool
    status: int | None
    seconds: float | None
    answer: str
    problem: str

    def line(self) -> str:
        took = f" in {self.seconds:.2f}s" if self.seconds is not None else ""
        if self.ok:
            return f"smoke test passed: HTTP {self.status}{took}, answer {self.answer!r}"
        return f"smoke test failed: {self.problem}"


def judge_smoke(log: str, spec: SmokeSpec) -> SmokeResult:
    """Status 200, within the latency budget, and a non-empty completion."""
    match = _RESULT.search(log)
    if match is None:
        tail = log.strip().splitlines()[-1:] or ["(empty log)"]
        return SmokeResult(False, None, None, "", f"no response from {spec.url}: {tail[0][:300]}")
    status, seconds = int(match.group(1)), float(match.group(2))
    body = log[: match.start()].strip()
    if status != 200:
        return SmokeResult(False, status, seconds, "", f"{spec.url} answered HTTP {status}: {body[:300]}")
    try:
        answer = str(json.loads(body)["choices"][0]["text"])
    except (ValueError, KeyError, IndexError, TypeError):
        return SmokeResult(False, status, seconds, "", f"{spec.url} answered HTTP 200 without a completion: {body[:300]}")
    if not answer.strip():
        return SmokeResult(False, status, seconds, answer, f"{spec.url} returned an empty completion")
    if seconds > spec.max_seconds:
        return SmokeResult(
            False, status, seconds, answer, f"the completion took {seconds:.2f}s, more than the {spec.max_seconds:g}s budget"
        )
    return SmokeResult(True, status, seconds, answer.strip(), "")
