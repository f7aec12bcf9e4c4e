"""Real Prometheus and Alertmanager for the tests: Debian's binaries (scripts/fetch-monitoring-binaries), started
on loopback ports with temporary config and data directories, stopped at the end of the session.

Without the binaries the tests that need them skip with the command that fetches them; with
AI_SERVING_REQUIRE_MONITORING=1 (set by .ci/run) they fail instead, so CI can never pass by skipping them.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

BIN_ENV = "AI_SERVING_MONITORING_BIN"
REQUIRE_ENV = "AI_SERVING_REQUIRE_MONITORING"
DEFAULT_BIN = Path.home() / ".cache" / "ai-serving-monitoring" / "bin"
FETCH = "scripts/fetch-monitoring-binaries"
READY_TIMEOUT_SECONDS = 20.0


def binary(name: str) -> Path:
    """The fetched binary, or skip (fail when the run requires the real binaries)."""
    path = Path(os.environ.get(BIN_ENV) or DEFAULT_BIN) / name
    if path.is_file() and os.access(path, os.X_OK):
        return path
    message = f"{name} not found in {path.parent}: run {FETCH} (or set {BIN_ENV})"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {message}")
    pytest.skip(message)


def with_packaged_share(binary_path: Path, argv: list[str]) -> list[str]:
    """argv run in a private mount namespace where the package's usr/share overlays /usr/share.

    Debian's Alertmanager reads its notification templates from /usr/share/prometheus/alertmanager (a Debian
    patch; no flag moves it). The .deb is unpacked, not installed, so the files are only in the cache: the overlay
    shows them at that path to this process alone, and the machine's /usr/share is never written."""
    share = binary_path.resolve().parents[1] / "share"
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    mount = f'mount -t overlay overlay -o "lowerdir={share}:/usr/share" /usr/share && exec "$0" "$@"'
    return ["unshare", *user, "--mount", "--propagation", "private", "sh", "-c", mount, *argv]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http(method: str, url: str, body: Any = None, timeout: float = 5.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        text = response.read().decode()
    return json.loads(text) if text.strip().startswith(("{", "[")) else text


@dataclass
class Server:
    """A started binary listening on 127.0.0.1:port."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(name: str, argv: list[str], port: int, workdir: Path) -> Server:
    """Start a binary and wait until its /-/ready answers 200; on failure show its log."""
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    server = Server(name, process, port, log)
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{name} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/-/ready", timeout=1) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    server.stop()
    raise AssertionError(f"{name} not ready after {READY_TIMEOUT_SECONDS}s:\n{log.read_text()[-3000:]}")


# ---- synthetic series ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One series sampled every `step` seconds over [start, end]: value(t) with t seconds since start."""

    name: str
    labels: Mapping[str, str]
    values: tuple[float, ...]


@dataclass
class SeriesSet:
    """Series with known answers, sampled like a 15 s scrape, written as OpenMetrics for promtool."""

    start: int
    samples: int
    step: int = 15
    series: list[Series] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.start + (self.samples - 1) * self.step

    def gauge(self, name: str, labels: Mapping[str, str], value: float) -> None:
        self.series.append(Series(name, dict(labels), tuple(value for _ in range(self.samples))))

    def counter(self, name: str, labels: Mapping[str, str], per_second: float) -> None:
        """A counter growing at a constant rate (rate() over any window returns per_second)."""
        self.series.append(Series(name, dict(labels), tuple(per_second * i * self.step for i in range(self.samples))))

    def histogram(self, name: str, labels: Mapping[str, str], per_second_by_le: Mapping[float, float]) -> None:
        """`<name>_bucket` counters with cumulative rates per upper bound (the last must be +Inf)."""
        for le, rate in per_second_by_le.items():
            self.counter(f"{name}_bucket", {**labels, "le": _le(le)}, rate)

    def openmetrics(self) -> str:
        lines: list[str] = []
        for s in sorted(self.series, key=lambda s: s.name):
            label_text = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            for i, value in enumerate(s.values):
                lines.append(f"{s.name}{{{label_text}}} {value!r} {self.start + i * self.step}")
        return "\n".join([*lines, "# EOF", ""])


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def prometheus_with_series(series: SeriesSet, workdir: Path) -> Server:
    """A Prometheus whose TSDB holds exactly `series` (promtool's block import), scraping nothing."""
    promtool, prometheus = binary("promtool"), binary("prometheus")
    data = workdir / "data"
    data.mkdir(parents=True)
    source = workdir / "series.om"
    source.write_text(series.openmetrics())
    subprocess.run(
        [str(promtool), "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    config = workdir / "prometheus.yml"
    config.write_text("global: {}\n")
    port = free_port()
    argv = [
        str(prometheus),
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        # The imported blocks are in the past: keep them.
        "--storage.tsdb.retention.time=3650d",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    return start("prometheus", argv, port, workdir)


def instant_query(server: Server, query: str, at: int) -> dict[str, Any]:
    """Prometheus' /api/v1/query answer (`data`), failing on a query Prometheus rejects."""
    url = f"{server.url}/api/v1/query?" + urllib.parse.urlencode({"query": query, "time": str(at)})
    try:
        answer = http("GET", url)
    except urllib.error.HTTPError as err:
        raise AssertionError(f"Prometheus rejected {query!r}: {err.read().decode()}") from None
    assert answer["status"] == "success", answer
    data: dict[str, Any] = answer["data"]
    return data


def scalar(server: Server, query: str, at: int) -> float:
    data = instant_query(server, query, at)
    assert data["resultType"] == "scalar", f"{query!r} returned a {data['resultType']}, Argo reads a scalar here"
    return float(data["result"][1])


def vector(server: Server, query: str, at: int, by: str) -> dict[str, float]:
    data = instant_query(server, query, at)
    assert data["resultType"] == "vector", data
    return {sample["metric"].get(by, ""): float(sample["value"][1]) for sample in data["result"]}
