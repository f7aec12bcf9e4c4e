"""How one stack differs from another (`ai-serving diff --across-stacks A B`): resources matched by URN with the
stack taken out, values compared with the stack name normalized, so that what remains is a genuine difference
(sizes, capacity type, replicas, protect), not a wall of adds and removes."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .diff_values import changed_paths, input_changes
from .urns import normalize_value, without_stack

_ARN_REGION = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:([a-z]{2}(?:-gov)?-[a-z]+-\d):")
_ARN_ACCOUNT = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):")
# Stand-in identifiers of other resources' outputs (ids, UUIDs, validation hashes): the offline plan derives them
# from names, so they differ between stacks without meaning anything; a real preview shows them as unknown.
_STAND_IN_ID = re.compile(
    r"\b(?:subnet|vpc|sg|rtb|igw|nat|eipalloc|eni|lt|vol|ami|i)-[0-9a-f]{8,17}\b"
    r"|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"
    r"|_?\b[0-9a-f]{32}\b"
)

_COMPARED_FIELDS = ("protect", "retainOnDelete", "ignoreChanges", "deleteBeforeReplace")


@dataclass
class StackDifference:
    a_stack: str
    b_stack: str
    a_identity: dict[str, str] = field(default_factory=dict)
    b_identity: dict[str, str] = field(default_factory=dict)
    # normalized URN -> lines saying how b differs from a
    differing: dict[str, list[str]] = field(default_factory=dict)
    only_in_a: list[str] = field(default_factory=list)
    only_in_b: list[str] = field(default_factory=list)


def _most_common(values: list[str]) -> str | None:
    counted = Counter(v for v in values if v)
    return counted.most_common(1)[0][0] if counted else None


def _gcp_name_prefix(resources: list[dict[str, Any]]) -> str | None:
    names = [
        r["inputs"].get("name") or r["inputs"].get("accountId")
        for r in resources
        if r["type"].startswith("gcp:compute/") or r["type"] == "gcp:serviceaccount/account:Account"
    ]
    names = [n for n in names if isinstance(n, str)]
    if len(names) < 2:
        return None
    prefix = names[0]
    for name in names[1:]:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    prefix = prefix[: prefix.rfind("-")] if "-" in prefix else ""
    return prefix or None


def stack_identity(document: dict[str, Any]) -> dict[str, str]:
    """What names one stack's deployment and differs between stacks by design: region, AWS account, GCP project and
    name prefix (placeholder -> value; plan.json does not state them, they are read off the resources)."""
    resources = document["resources"]
    text = json.dumps(resources)
    found = {
        "{gcp-project}": _most_common([r["inputs"].get("project") for r in resources if r["type"].startswith("gcp:")]),
        "{gcp-prefix}": _gcp_name_prefix(resources),
        "{account}": _most_common(_ARN_ACCOUNT.findall(text)),
        "{region}": _most_common(_ARN_REGION.findall(text)),
    }
    return {k: v for k, v in found.items() if isinstance(v, str)}


def _masked(value: Any, identity: dict[str, str]) -> Any:
    if isinstance(value, str):
        masked = _STAND_IN_ID.sub("<id>", value)
        for placeholder, token in identity.items():
            # A region may be followed by a zone letter (us-east-1a); other tokens end at a word boundary.
            after = "(?![0-9])" if placeholder == "{region}" else "(?![A-Za-z0-9])"
            masked = re.sub(rf"(?<![A-Za-z0-9]){re.escape(token)}{after}", placeholder, masked)
        return masked
    if isinstance(value, dict):
        return {_masked(k, identity): _masked(v, identity) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, identity) for v in value]
    return value


def _normalized(document: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Resources by URN with the stack name, then the stack's identity (see stack_identity) taken out."""
    project, stack = document.get("project", ""), document.get("stack", "")
    resources = [
        {**r, "urn": without_stack(r["urn"], project, stack), "inputs": normalize_value(r["inputs"], project, stack)}
        for r in document["resources"]
    ]
    identity = stack_identity({"resources": resources})
    return {_masked(r["urn"], identity): {**r, "inputs": _masked(r["inputs"], identity)} for r in resources}, identity


def compare_stacks(a: dict[str, Any], b: dict[str, Any]) -> StackDifference:
    (left, a_identity), (right, b_identity) = _normalized(a), _normalized(b)
    result = StackDifference(str(a.get("stack")), str(b.get("stack")), a_identity, b_identity)
    result.only_in_a = sorted(set(left) - set(right))
    result.only_in_b = sorted(set(right) - set(left))
    for urn in sorted(set(left) & set(right)):
        old, new = left[urn], right[urn]
        lines = [f"{f}: {old.get(f)!r} → {new.get(f)!r}" for f in _COMPARED_FIELDS if old.get(f) != new.get(f)]
        if changed_paths(old["inputs"], new["inputs"]):
            lines += input_changes(old["inputs"], new["inputs"])
        if lines:
            result.differing[urn] = lines
    return result


def _type_counts(urns: list[str]) -> str:
    counts = Counter(urn.split("::", 3)[2].split("$")[-1] for urn in urns)
    return ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))


def render_across_text(diff: StackDifference) -> str:
    lines = [
        f"{diff.b_stack} compared with {diff.a_stack}: {len(diff.differing)} resources differ"
        f" ({len(diff.only_in_a)} only in {diff.a_stack}, {len(diff.only_in_b)} only in {diff.b_stack})"
    ]
    for placeholder in sorted(set(diff.a_identity) | set(diff.b_identity)):
        before, after = diff.a_identity.get(placeholder), diff.b_identity.get(placeholder)
        if before != after:
            lines.append(f"{placeholder}: {before} → {after}")
    if diff.only_in_a:
        lines.append(f"only in {diff.a_stack}: {_type_counts(diff.only_in_a)}")
    if diff.only_in_b:
        lines.append(f"only in {diff.b_stack}: {_type_counts(diff.only_in_b)}")
    for urn, changes in diff.differing.items():
        parts = urn.split("::", 3)
        lines.append(f"~ {parts[2].split('$')[-1]} {parts[3]}")
        lines += [f"    {line}" for line in changes]
    return "\n".join(lines)


def render_across_markdown(diff: StackDifference) -> str:
    return f"### How {diff.b_stack} differs from {diff.a_stack}\n\n```diff\n{render_across_text(diff)}\n```\n"
