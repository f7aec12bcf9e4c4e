"""What every stand-in rule shares: the pretend account and project, the stack's context, and stable hashes.

Random parts of names and ids are derived from a hash of (type, logical name), so two runs of the plan are
byte-identical.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

# The account, region and project the plan pretends to run in. They appear in ARNs and URLs of the plan only.
ACCOUNT_ID = "123456789012"
GCP_PROJECT_NUMBER = "123456789012"


def stable_hex(*parts: str, length: int = 17) -> str:
    return hashlib.sha256("::".join(parts).encode()).hexdigest()[:length]


class Context:
    """Values shared by the stand-in rules: region, project and the autonaming patterns of Pulumi.yaml."""

    def __init__(
        self,
        region: str,
        gcp_project: str | None,
        *,
        project: str = "ai-serving",
        stack: str = "test",
        autonaming: dict[str, str] | None = None,
    ) -> None:
        self.region = region
        self.gcp_project = gcp_project or "example-project"
        self.project = project
        self.stack = stack
        # provider package ("aws") -> pattern such as "${project}-${stack}-${name}-${hex(7)}"
        self.autonaming = autonaming or {}


_PATTERN_PART = re.compile(r"\$\{(\w+)(?:\((\d+)\))?\}")


def auto_name(ctx: Context, typ: str, name: str) -> str:
    """The physical name Pulumi would generate: the provider's autonaming pattern, else "<name>-<7 random>".

    Random parts are derived from a hash of (type, name) so the plan stays deterministic.
    """
    pattern = ctx.autonaming.get(typ.split(":")[0], "${name}-${hex(7)}")

    def expand(match: re.Match[str]) -> str:
        part, length = match.group(1), int(match.group(2) or 8)
        fixed = {"project": ctx.project, "stack": ctx.stack, "name": name, "organization": "organization"}
        if part in fixed:
            return fixed[part]
        if part == "uuid":
            return stable_uuid(typ, name)
        digits = stable_hex(typ, name, part, length=64)
        if part == "num":
            return "".join(str(int(c, 16) % 10) for c in digits[:length])
        return digits[:length]

    return _PATTERN_PART.sub(expand, pattern)


def stable_uuid(*parts: str) -> str:
    h = stable_hex(*parts, length=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


ComputedRule = Callable[[Context, str, dict[str, Any]], dict[str, Any]]
