"""Deploy notifications to the team's Discord channel (an incoming webhook), sent by the deploy workflow.

The webhook URL comes from the environment (the repository secret DISCORD_DEPLOY_WEBHOOK), never from an argument,
so it stays out of process listings and logs.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Literal

from .status import Target

Event = Literal["started", "succeeded", "canary-aborted", "failed"]
EVENTS: tuple[Event, ...] = ("started", "succeeded", "canary-aborted", "failed")
_TITLE = {
    "started": "🚀 Deploy started",
    "succeeded": "✅ Deploy succeeded",
    "canary-aborted": "⛔ Canary aborted, traffic rolled back to the stable version",
    "failed": "❌ Deploy failed",
}
# Discord rejects message content over 2000 characters.
DISCORD_LIMIT = 2000


def message(event: Event, stack: str, models: Sequence[Target], run_url: str | None, detail: str = "") -> str:
    lines = [f"**{_TITLE[event]}**: stack `{stack}`"]
    lines += [f"• {t.model} {t.version} (`{t.image}`)" for t in models] or ["• no models"]
    if detail:
        lines.append(detail.strip())
    if run_url:
        lines.append(f"Run: <{run_url}>")
    text = "\n".join(lines)
    return text if len(text) <= DISCORD_LIMIT else text[: DISCORD_LIMIT - 1] + "…"


Post = Callable[[str, bytes], int]


def _post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", "User-Agent": "ai-serving-notify"})
    with urllib.request.urlopen(request, timeout=15) as response:
        return int(response.status)


def send(webhook_url: str, text: str, post: Post = _post) -> str | None:
    """Post the message; None on success, otherwise why not (never the URL, which holds the webhook's token)."""
    if not webhook_url.startswith("https://"):
        return "the webhook URL is not an https:// URL"
    body = json.dumps({"content": text, "allowed_mentions": {"parse": []}}).encode()
    try:
        status = post(webhook_url, body)
    except urllib.error.HTTPError as err:
        return f"Discord answered HTTP {err.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        return f"cannot reach Discord: {type(err).__name__}"
    return None if 200 <= status < 300 else f"Discord answered HTTP {status}"
