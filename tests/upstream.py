"""Facts about the pinned upstream releases, read from `../shared` (which every developer and CI run has):
the CRDs of each release (`schemas/crds/`), the pinned charts' values and provenance (`data/helm-values/`), and
the series vLLM 0.18.0 exposes (`data/vllm-0.18.0-metrics.md`).

Tests compare the program with these instead of with its own constants, so a wrong pin, a wrong CRD file or a
misspelt metric fails.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.harness import PROJECT_DIR

SHARED = PROJECT_DIR.parent / "shared"
CRD_SCHEMAS = SHARED / "schemas" / "crds"
HELM_VALUES = SHARED / "data" / "helm-values"
VLLM_METRICS = SHARED / "data" / "vllm-0.18.0-metrics.md"

_SCHEMA_FILE = re.compile(r"^(?P<project>.+?)-(?P<release>v\d+\.\d+\.\d+)-(?P<file>.+)\.yaml$")


def shared_file(path: Path) -> Path:
    """A file of ../shared; a missing one fails the test (skipping would let a check pass without checking)."""
    assert path.exists(), f"{path} is missing: tests read upstream facts from ../shared beside the project"
    return path


def crd_file_key(file_name: str) -> str:
    """What one CRD file is called, the same for an upstream manifest URL and a schema file of that release:
    `rollout-crd.yaml` (Argo) and `monitoring.coreos.com_podmonitors.yaml` (Prometheus Operator) name the
    schema files `...-rollout.yaml` and `...-podmonitors.yaml`."""
    stem = file_name.removesuffix(".yaml").removesuffix("-crd")
    return stem.rsplit("_", 1)[-1]


@dataclass(frozen=True)
class CrdSchema:
    """One CustomResourceDefinition of a pinned release in ../shared/schemas/crds."""

    project: str
    release: str
    file_key: str
    group: str
    kind: str
    plural: str
    served_versions: frozenset[str]


@functools.cache
def crd_schemas() -> tuple[CrdSchema, ...]:
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    schemas = []
    for path in sorted(shared_file(CRD_SCHEMAS).glob("*.yaml")):
        match = _SCHEMA_FILE.match(path.name)
        assert match, f"unexpected CRD schema file name {path.name}"
        # The C SafeLoader where PyYAML has it: the schemas are several MB.
        crd = yaml.load(path.read_text(), Loader=loader)
        spec = crd["spec"]
        schemas.append(
            CrdSchema(
                project=match["project"],
                release=match["release"],
                file_key=crd_file_key(match["file"]),
                group=spec["group"],
                kind=spec["names"]["kind"],
                plural=spec["names"]["plural"],
                served_versions=frozenset(v["name"] for v in spec["versions"] if v["served"]),
            )
        )
    return tuple(schemas)


def crd_schema_for(group: str, kind: str) -> CrdSchema | None:
    matches = [s for s in crd_schemas() if (s.group, s.kind) == (group, kind)]
    assert len(matches) <= 1, f"{group}/{kind} is defined by several releases in ../shared: {matches}"
    return matches[0] if matches else None


def chart_source(chart: str, version: str) -> dict[str, str]:
    """The SOURCE file of a pinned chart's upstream values: repo, tag, commit, note, ... (first value per key)."""
    fields: dict[str, str] = {}
    for line in shared_file(HELM_VALUES / f"{chart}-{version}" / "SOURCE").read_text().splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def chart_values(chart: str, version: str) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(shared_file(HELM_VALUES / f"{chart}-{version}" / "values.yaml").read_text())
    return values


def chart_values_text(chart: str, version: str) -> str:
    return shared_file(HELM_VALUES / f"{chart}-{version}" / "values.yaml").read_text()


# --- what the monitored processes expose ------------------------------------------------------------------------


@functools.cache
def vllm_series() -> dict[str, frozenset[str]]:
    """The labels vLLM 0.18.0 itself puts on each series it exposes, by series name (the image the stacks pin), from the metric table of the shared data file.

    The file says which labels they carry: `model_name` and `engine` on most (histogram series add `le`), and
    the HTTP metrics of prometheus-fastapi-instrumentator.
    """
    text = shared_file(VLLM_METRICS).read_text()
    series: dict[str, frozenset[str]] = {}
    for exposed_as in re.findall(r"^\| `vllm:[^`]+` \| [^|]+ \| ([^|]+) \|$", text, flags=re.M):
        for name in re.findall(r"`([^`]+)`", exposed_as):
            extra = {"le"} if name.endswith("_bucket") else set()
            extra |= {"finished_reason"} if name.startswith("vllm:request_success") else set()
            series[name] = frozenset({"model_name", "engine", *extra})
    http = re.search(r"`http_requests_total` \(labels ((?:`\w+`,? )+)", text)
    assert http, "the vLLM metrics file no longer documents http_requests_total's labels"
    series["http_requests_total"] = frozenset(re.findall(r"`(\w+)`", http[1]))
    assert "vllm:num_requests_waiting" in series and "vllm:time_to_first_token_seconds_bucket" in series
    return series


def vllm_http_status_groups() -> set[str]:
    """The values of http_requests_total's `status` label: the instrumentator groups codes as 2xx/4xx/5xx."""
    match = re.search(r"`status` grouped as ((?:`\w+`/?)+)", shared_file(VLLM_METRICS).read_text())
    assert match
    return set(re.findall(r"`(\w+)`", match[1]))


@functools.cache
def dcgm_default_counters(chart_version: str) -> frozenset[str]:
    """The metrics dcgm-exporter emits by default: the chart documents its default counters list (used while
    `customMetrics` is unset, as it is here) as comment lines `# DCGM_FI_..., <type>, <help>`."""
    text = chart_values_text("dcgm-exporter", chart_version)
    counters = re.findall(r"^\s*# (DCGM_FI_\w+)\s*,\s*(gauge|counter)\s*,", text, flags=re.M)
    assert counters, "no default counters found in the dcgm-exporter chart values"
    return frozenset(name for name, _ in counters)
