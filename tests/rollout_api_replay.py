"""A loopback Kubernetes API that replays synthetic Argo Rollouts responses (tests/fixtures/rollout_status/*.json),
so `rollout-status` is tested through the official client exactly as it talks to a cluster.

Each GET of the Rollout returns the next recorded snapshot (the last one repeats). Jobs are accepted, reported
finished, and their pod log is the scenario's `smokeLog`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

FIXTURES = Path(__file__).parent / "fixtures" / "rollout_status"
NS = "llm-serving"
ROLLOUTS = f"/apis/argoproj.io/v1alpha1/namespaces/{NS}"
JOBS = f"/apis/batch/v1/namespaces/{NS}/jobs"


def scenario(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


UNAVAILABLE = {
    "kind": "Status",
    "apiVersion": "v1",
    "status": "Failure",
    "reason": "ServiceUnavailable",
    "code": 503,
    "message": "the server is currently unable to handle the request",
}


@dataclass
class Replay:
    recorded: dict[str, Any]
    smoke_log: str = ""
    # path -> (status, body) answered instead of the recording.
    failures: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    created_jobs: list[dict[str, Any]] = field(default_factory=list)
    rollout_reads: int = 0
    # The first N reads of the Rollout answer 503 (an API server restarting).
    unavailable_reads: int = 0
    # The first N lists of AnalysisRuns answer 503.
    unavailable_run_lists: int = 0

    def answer(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        route = path.split("?", 1)[0]
        if route in self.failures:
            return self.failures[route]
        if method == "GET" and route == f"{ROLLOUTS}/analysisruns" and self.unavailable_run_lists > 0:
            self.unavailable_run_lists -= 1
            return 503, UNAVAILABLE
        if method == "GET" and route == f"{ROLLOUTS}/rollouts/qwen-small" and self.unavailable_reads > 0:
            self.unavailable_reads -= 1
            return 503, {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "reason": "ServiceUnavailable",
                "code": 503,
                "message": "the server is currently unable to handle the request",
            }
        if method == "GET" and route == f"{ROLLOUTS}/rollouts/qwen-small":
            snapshots = self.recorded["rollouts"]
            self.rollout_reads += 1
            return 200, snapshots[min(self.rollout_reads, len(snapshots)) - 1]
        if method == "GET" and route == f"{ROLLOUTS}/analysisruns":
            return 200, self.recorded["analysisRuns"]
        if method == "GET" and route == f"{ROLLOUTS}/analysistemplates":
            return 200, self.recorded["analysisTemplates"]
        if method == "POST" and route == JOBS:
            job = json.loads(body)
            self.created_jobs.append(job)
            return 201, job
        if method == "GET" and route.startswith(f"{JOBS}/"):
            return 200, {**self.created_jobs[-1], "status": {"succeeded": 1}}
        if method == "DELETE" and route.startswith(f"{JOBS}/"):
            return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success"}
        if method == "GET" and route == f"/api/v1/namespaces/{NS}/pods":
            name = self.created_jobs[-1]["metadata"]["name"]
            return 200, {
                "kind": "PodList",
                "apiVersion": "v1",
                "metadata": {},
                "items": [{"metadata": {"name": f"{name}-x7k2p", "namespace": NS}}],
            }
        if method == "GET" and route.endswith("/log"):
            return 200, self.smoke_log
        return 404, {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": f"no recording for {method} {route}",
            "code": 404,
        }


@contextmanager
def serve(replay: Replay) -> Iterator[str]:
    """Yields the URL of an API server on 127.0.0.1 answering from `replay`."""

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            replay.requests.append((self.command, self.path, dict(self.headers)))
            status, answer = replay.answer(self.command, self.path, body)
            data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(answer, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _handle  # noqa: N815 (the names http.server dispatches to)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def kubeconfig(path: Path, server: str) -> Path:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "replay", "cluster": {"server": server}}],
        "users": [{"name": "ci", "user": {"token": "replay-token"}}],
        "contexts": [{"name": "replay", "context": {"cluster": "replay", "user": "ci"}}],
        "current-context": "replay",
    }
    path.write_text(yaml.safe_dump(document))
    return path
