"""Argo Rollouts' notification engine: rollout events to the team's Discord channel, for every Rollout, whoever
changed it (a `pulumi up`, `kubectl argo rollouts promote|abort|undo`, an Argo CD sync).

The webhook URL is the Alertmanager's (the stack secret alertmanagerDiscordWebhook), in the controller's own
notification Secret; the chart's ConfigMap refers to it as `$discord-webhook-url`, so it never enters Helm values.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from .vllm_objects import VERSION_LABEL

NOTIFICATION_SECRET_NAME = "argo-rollouts-notification-secret"
NOTIFICATION_SECRET_KEY = "discord-webhook-url"
# The controller reads only a notification Secret with its component label (chart values, notifications.secret).
CONTROLLER_COMPONENT = "rollouts-controller"
SERVICE = "discord"

# Trigger (Argo Rollouts' event, as `on-<event>`) -> what the message says.
EVENTS = {
    "on-rollout-updated": "🔄 rollout started",
    "on-rollout-completed": "✅ rollout completed",
    "on-rollout-aborted": "⛔ canary aborted, traffic back on the stable version",
    "on-analysis-run-failed": "❌ canary analysis failed",
    "on-rollout-paused": "⏸️ rollout paused (waiting for a promote, or an inconclusive analysis)",
}


def _template_name(trigger: str) -> str:
    return f"discord-{trigger.removeprefix('on-')}"


def _go(text: str) -> str:
    """A Go string literal (JSON's escapes are Go's)."""
    return json.dumps(text, ensure_ascii=False)


def discord_body(stack: str, what: str) -> str:
    """The webhook body, a Go template rendered by the controller: a JSON object whose content is built in one
    template action and passed through sprig's toJson, so quotes in a status message cannot break the JSON."""
    labels = ".rollout.spec.template.metadata.labels"
    parts = [
        _go(f"**{what}**: stack `{stack}`, model "),
        ".rollout.metadata.name",
        _go(" "),
        f"(index {labels} {_go(VERSION_LABEL)})",
        _go(" (`"),
        "(index .rollout.spec.template.spec.containers 0).image",
        _go("`) in namespace "),
        ".rollout.metadata.namespace",
        _go(", phase "),
        '(default "" .rollout.status.phase)',
        _go(": "),
        '(default "" .rollout.status.message)',
        _go(". Details: `kubectl argo rollouts get rollout "),
        ".rollout.metadata.name",
        _go(" -n "),
        ".rollout.metadata.namespace",
        _go("`"),
    ]
    return '{"content": {{ print ' + " ".join(parts) + ' | toJson }}, "allowed_mentions": {"parse": []}}'


def notification_values(stack: str) -> dict[str, Any]:
    """The argo-rollouts chart's `notifications` values."""
    service = {
        "url": f"${NOTIFICATION_SECRET_KEY}",
        "headers": [{"name": "Content-Type", "value": "application/json"}],
    }
    templates = {}
    triggers = {}
    for trigger, what in EVENTS.items():
        name = _template_name(trigger)
        body = discord_body(stack, what)
        templates[f"template.{name}"] = yaml.safe_dump(
            {"webhook": {SERVICE: {"method": "POST", "body": body}}}, width=10_000, sort_keys=False, allow_unicode=True
        )
        triggers[f"trigger.{trigger}"] = yaml.safe_dump([{"send": [name]}], sort_keys=False)
    return {
        # Created by the program from the stack secret (see ServingAddons), not by the chart.
        "secret": {"create": False},
        "notifiers": {f"service.webhook.{SERVICE}": yaml.safe_dump(service, sort_keys=False)},
        "templates": templates,
        "triggers": triggers,
        # Every Rollout of the cluster, without annotating each one.
        "subscriptions": [{"recipients": [f"{SERVICE}:deploys"], "triggers": list(EVENTS)}],
    }


def notification_secret_metadata(namespace: str) -> dict[str, Any]:
    return {
        "name": NOTIFICATION_SECRET_NAME,
        "namespace": namespace,
        "labels": {"app.kubernetes.io/component": CONTROLLER_COMPONENT, "app.kubernetes.io/part-of": "ai-serving"},
    }
