"""The rendered Alertmanager configuration on a real Alertmanager (Debian 13's 0.28.1: the first packaged release
that accepts `webhook_url_file` in Discord receivers; the cluster runs 0.33).

The configuration is the one the production plan renders for kube-prometheus-stack. Two changes only, both for
running it here: each `*_file` path (a mounted Secret in the cluster) points to a temp file holding a loopback
URL, and every duration is divided by TIME_SCALE so that the 30 s group wait and the Watchdog's 1 min heartbeat
take well under a second (the ratios between the timings stay as configured). `amtool check-config` and the
routing tree are checked on the unmodified configuration.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.k8s.serving_addon_values import ALERTMANAGER_SECRETS_DIR, KUBE_PROMETHEUS_STACK, serving_alert_rules
from infra.args.serving import alert_thresholds
from infra.config.serving import AlertThresholdsConfig
from tests.harness import checked_in_plan
from tests.monitoring_stack import Server, binary, free_port, http, start, with_packaged_share

TIME_SCALE = 60
DURATION = re.compile(r"^(\d+)(ms|s|m|h)$")
MILLIS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}


def rendered_config() -> dict[str, Any]:
    """alertmanager.config of the production plan's kube-prometheus-stack release."""
    [release] = [
        r
        for r in checked_in_plan("production").document["resources"]
        if r["type"] == "kubernetes:helm.sh/v3:Release" and r["inputs"].get("chart") == KUBE_PROMETHEUS_STACK.name
    ]
    config: dict[str, Any] = release["inputs"]["values"]["alertmanager"]["config"]
    return config


def _rewritten(value: Any, files: dict[str, Path]) -> Any:
    """The config with Secret file paths replaced by `files` and every duration divided by TIME_SCALE."""
    if isinstance(value, dict):
        return {k: _rewritten(v, files) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewritten(v, files) for v in value]
    if isinstance(value, str) and value.startswith(f"{ALERTMANAGER_SECRETS_DIR}/"):
        return str(files[value])
    if isinstance(value, str) and (m := DURATION.fullmatch(value)):
        return f"{int(m[1]) * MILLIS[m[2]] // TIME_SCALE}ms"
    return value


class Receiver:
    """A loopback HTTP endpoint recording every JSON body posted to it, by path."""

    def __init__(self) -> None:
        self.received: list[tuple[str, float, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append((self.path, time.monotonic(), json.loads(body)))
                # Discord answers 204 to a webhook post.
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [body for p, _, body in self.received if p == path]

    def wait_for(self, path: str, count: int, match: str, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [b for b in self.bodies(path) if match in json.dumps(b)]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{path}: {count} deliveries mentioning {match!r} expected, got {self.bodies(path)}")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("alertmanager")
    config = rendered_config()
    files: dict[str, Path] = {}
    for secret_path in re.findall(rf'"({re.escape(ALERTMANAGER_SECRETS_DIR)}/[^"]+)"', json.dumps(config)):
        name = secret_path.split("/")[-2]
        files[secret_path] = workdir / f"{name}.url"
        files[secret_path].write_text(receiver.url(f"/{name}"))
    (workdir / "alertmanager.yml").write_text(yaml.safe_dump(_rewritten(config, files)))
    port = free_port()
    alertmanager_binary = binary("prometheus-alertmanager")
    argv = [
        str(alertmanager_binary),
        f"--config.file={workdir / 'alertmanager.yml'}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        # A single instance: no gossip port.
        "--cluster.listen-address=",
    ]
    server = start("alertmanager", with_packaged_share(alertmanager_binary, argv), port, workdir)
    yield server
    server.stop()


def _post(alertmanager: Server, *alerts: dict[str, str], annotations: dict[str, str] | None = None) -> None:
    now = datetime.now(UTC)
    body = [
        {
            "labels": labels,
            "annotations": annotations or {"summary": f"{labels['alertname']} test"},
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(minutes=10)).isoformat(),
        }
        for labels in alerts
    ]
    http("POST", f"{alertmanager.url}/api/v2/alerts", body)


def _amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary("amtool")), *args], capture_output=True, text=True, timeout=30)


def test_amtool_accepts_the_rendered_config(tmp_path: Path) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(rendered_config()))
    result = _amtool("check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def _alert_labels() -> list[dict[str, str]]:
    rules = serving_alert_rules("r", "llm-serving", alert_thresholds(AlertThresholdsConfig()), "https://example.invalid/docs")
    return [{"alertname": r["alert"], **r["labels"]} for g in rules["spec"]["groups"] for r in g["rules"]]


def test_every_alert_routes_by_its_severity_and_the_watchdog_to_the_heartbeat(tmp_path: Path) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(rendered_config()))
    expected = [(labels, "discord") for labels in _alert_labels()]
    expected += [
        ({"alertname": "Watchdog", "severity": "none"}, "heartbeat"),
        ({"alertname": "CPUThrottlingHigh", "severity": "info"}, "null"),
    ]
    for labels, receiver in expected:
        args = [f"{k}={v}" for k, v in labels.items()]
        result = _amtool("config", "routes", "test", f"--config.file={path}", "--verify.receivers", receiver, *args)
        assert result.returncode == 0, f"{labels} routes to {result.stdout.strip()}, expected {receiver}"


def test_a_critical_alert_reaches_discord_in_discords_webhook_format(alertmanager: Server, receiver: Receiver) -> None:
    labels = {"alertname": "VllmHighErrorRatio", "severity": "critical", "namespace": "ns-critical", "app_kubernetes_io_name": "m"}
    _post(alertmanager, labels, annotations={"summary": "Model m answers more than 5% of requests with 5xx"})
    [message] = receiver.wait_for("/alertmanager-discord", 1, "ns-critical")
    # Discord's execute-webhook body: embeds with a title, a description and a colour, not Alertmanager's own
    # webhook format (no "alerts" list).
    assert "alerts" not in message
    [embed] = message["embeds"]
    assert embed["title"].startswith("[FIRING:1] VllmHighErrorRatio")
    assert "5xx" in embed["description"]
    assert isinstance(embed["color"], int)


def test_alerts_are_grouped_by_name_and_namespace(alertmanager: Server, receiver: Receiver) -> None:
    def backlog(namespace: str, pod: str) -> dict[str, str]:
        return {"alertname": "VllmScrapeTargetDown", "severity": "warning", "namespace": namespace, "pod": pod}

    _post(alertmanager, backlog("ns-grouped", "a"), backlog("ns-grouped", "b"), backlog("ns-other", "c"))
    [grouped] = receiver.wait_for("/alertmanager-discord", 1, "ns-grouped")
    assert grouped["embeds"][0]["title"].startswith("[FIRING:2] VllmScrapeTargetDown")
    [other] = receiver.wait_for("/alertmanager-discord", 1, "ns-other")
    assert other["embeds"][0]["title"].startswith("[FIRING:1] VllmScrapeTargetDown")


def test_a_model_without_replicas_inhibits_its_warnings_only(alertmanager: Server, receiver: Receiver) -> None:
    down = {"alertname": "VllmNoReadyReplicas", "severity": "critical", "namespace": "ns-inhibit", "app_kubernetes_io_name": "down"}
    _post(alertmanager, down)
    receiver.wait_for("/alertmanager-discord", 1, "VllmNoReadyReplicas")
    same_model = {"alertname": "VllmQueueBacklog", "severity": "warning", "namespace": "ns-inhibit", "app_kubernetes_io_name": "down"}
    other_model = {**same_model, "app_kubernetes_io_name": "healthy"}
    _post(alertmanager, same_model, other_model)
    [delivered] = receiver.wait_for("/alertmanager-discord", 1, "VllmQueueBacklog")
    assert "[FIRING:1]" in delivered["embeds"][0]["title"]
    states = http("GET", f"{alertmanager.url}/api/v2/alerts?filter=alertname%3D%22VllmQueueBacklog%22")
    by_model = {a["labels"]["app_kubernetes_io_name"]: a["status"] for a in states}
    assert by_model["down"]["state"] == "suppressed" and by_model["down"]["inhibitedBy"]
    assert by_model["healthy"]["state"] == "active"


def test_the_watchdog_pings_the_heartbeat_repeatedly_and_never_discord(alertmanager: Server, receiver: Receiver) -> None:
    _post(alertmanager, {"alertname": "Watchdog", "severity": "none"})
    pings = receiver.wait_for("/alertmanager-heartbeat", 2, "Watchdog")
    # Alertmanager's own webhook format, firing.
    assert pings[0]["status"] == "firing" and pings[0]["alerts"][0]["labels"]["alertname"] == "Watchdog"
    times = [t for p, t, body in receiver.received if p == "/alertmanager-heartbeat"]
    # Repeated at the route's repeat_interval (1 min in the cluster), not the default 12 h.
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) < 3 * 60 / TIME_SCALE
    assert not [b for b in receiver.bodies("/alertmanager-discord") if "Watchdog" in json.dumps(b)]
