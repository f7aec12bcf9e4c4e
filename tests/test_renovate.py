"""The Renovate configuration (.github/renovate.json): its custom regex managers, applied to the repository's files
the way Renovate applies them, find every pin the program deploys or the tooling installs, each exactly once, and
nothing else.

Renovate compiles `matchStrings` with RE2 using JavaScript's named groups `(?<name>...)`. Each one is compiled here
with Google's RE2 as written and with Python's `re` (groups converted to `(?P<name>...)`); both must find the same
matches. The built-in managers own the other pins: github-actions the workflows (action SHAs, setup-uv's uv, the
Pulumi CLI), pep621 pyproject.toml and uv.lock; no custom manager reads those files.
"""

from __future__ import annotations

import ast
import functools
import itertools
import json
import re
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import re2  # type: ignore[import-untyped]
import yaml

from catalogs.platform_images import PLATFORM_IMAGE_REPOSITORIES
from components.k8s import edge_crds, edge_epp, gpu_addons
from tests.harness import PROJECT_DIR, checked_in_plan, inputs

CONFIG_FILE = ".github/renovate.json"
CONFIG: dict[str, Any] = json.loads((PROJECT_DIR / CONFIG_FILE).read_text())
MANAGERS: list[dict[str, Any]] = CONFIG["customManagers"]
STACKS = ["staging", "production"]
RELEASE = "kubernetes:helm.sh/v3:Release"
CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup"

# Charts published as OCI artifacts with the app's version: their pin is the app's release tag.
OCI_CHART_RELEASES = {
    "oci://docker.io/envoyproxy/gateway-helm": "envoyproxy/gateway",
    "oci://docker.io/envoyproxy/ai-gateway-helm": "envoyproxy/ai-gateway",
}
# Images whose tag is a release constant (not pinned on their own): image repository -> GitHub repository.
DERIVED_IMAGES = {"registry.k8s.io/gateway-api-inference-extension/epp": "kubernetes-sigs/gateway-api-inference-extension"}
# `<account>.dkr.ecr.<region>.amazonaws.com/<upstream>/<path>`: ECR's pull-through copy of an upstream image, which
# Renovate follows at the upstream (the cache rule's prefix -> that registry's prefix in an image reference).
PULL_THROUGH_COPY = re.compile(r"[^/]+\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/(?P<upstream>[^/]+)/(?P<path>.+)")
PULL_THROUGH_UPSTREAMS = {"docker-hub": "", "quay": "quay.io/", "registry-k8s": "registry.k8s.io/", "ecr-public": "public.ecr.aws/"}
# Shell `NAME_VERSION=x` pins of ./dev and .ci/run -> (datasource, package).
TOOL_SOURCES = {"UV_VERSION": ("pypi", "uv"), "RENOVATE_VERSION": ("npm", "renovate"), "RENOVATE_NODE_VERSION": ("npm", "node")}
TOOL_FILES = ["dev", ".ci/run"]
# Renovate's own tool constraints -> (datasource, package).
CONSTRAINT_SOURCES = {"uv": ("pypi", "uv")}
# Version constants no Renovate datasource can follow, and why (docs/delivery.md lists them).
UNMANAGED_CONSTANTS = {
    ("components/aws/rate_limit_redis.py", "ENGINE_VERSION"): "ElastiCache engine version: AWS has no Renovate datasource",
    ("components/gcp/startup_script.py", "NVIDIA_CONTAINER_TOOLKIT_VERSION"): (
        "apt package of NVIDIA's flat repository, which Renovate's deb datasource cannot read"
    ),
}
# Files the built-in managers own.
BUILT_IN_FILES = {"pyproject.toml": "pep621", "uv.lock": "pep621"}
WORKFLOWS = ".github/workflows/"
# Packages the built-in managers report (besides pyproject.toml's): the workflows' tool inputs.
BUILT_IN_WORKFLOW_PACKAGES = {"astral-sh/uv", "pulumi/pulumi", "python"}

JS_NAMED_GROUP = re.compile(r"\(\?<(?=[A-Za-z_])")
TEMPLATE = re.compile(r"\{\{\{?\s*(\w+)\s*\}?\}\}")
# Fields a custom manager sets from a group of the same name or from `<field>Template` (Renovate's validMatchFields).
FIELDS = ("depName", "packageName", "currentValue", "currentDigest", "datasource", "registryUrl", "versioning", "extractVersion")
RAW_GITHUB = re.compile(r"https://raw\.githubusercontent\.com/(?P<repo>[\w.-]+/[\w.-]+)/(?P<ref>[^/]+)/.+")
RELEASE_DOWNLOAD = re.compile(r"https://github\.com/(?P<repo>[\w.-]+/[\w.-]+)/releases/download/(?P<ref>[^/]+)/.+")
VERSION_LIKE = re.compile(r"v?\d+(\.\d+)+\S*")


@dataclass(frozen=True)
class Pin:
    """What Renovate looks up: a package of a datasource (and registry) at a version (and digest)."""

    datasource: str
    package: str
    registry_url: str | None
    version: str | None
    digest: str | None = None


@dataclass(frozen=True)
class Dep:
    manager: int
    file: str
    start: int
    end: int
    pin: Pin
    replace_string: str


def python_pattern(js: str) -> re.Pattern[str]:
    return re.compile(JS_NAMED_GROUP.sub("(?P<", js))


def file_pattern(pattern: str) -> re.Pattern[str]:
    # Renovate reads `/.../` as a regex and anything else as a glob; only regexes are used so this test reads them alike.
    assert pattern.startswith("/") and pattern.endswith("/"), f"{pattern!r}: write managerFilePatterns as /regex/"
    return python_pattern(pattern[1:-1])


def render(template: str, groups: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        assert match[1] in groups, f"template {template!r} names {match[1]!r}, which no group captured"
        return groups[match[1]]

    return TEMPLATE.sub(value, template)


def dependency(index: int, file: str, start: int, text: str, groups: dict[str, str]) -> Dep:
    """Renovate's createDependency: each field from its template, else from the group of its name."""
    manager = MANAGERS[index]
    fields: dict[str, str] = {}
    for field in FIELDS:
        template = manager.get(f"{field}Template")
        if template is not None:
            fields[field] = render(template, groups)
        elif groups.get(field):
            fields[field] = groups[field]
    assert fields.get("datasource") and fields.get("depName"), f"{file}: manager {index} found {text!r} without datasource or depName"
    assert fields.get("currentValue") or fields.get("currentDigest"), f"{file}: manager {index} found {text!r} without a version"
    pin = Pin(
        fields["datasource"],
        fields.get("packageName", fields["depName"]),
        fields.get("registryUrl"),
        fields.get("currentValue"),
        fields.get("currentDigest"),
    )
    return Dep(index, file, start, start + len(text), pin, text)


def matches(index: int, content: str) -> list[tuple[int, str, dict[str, str]]]:
    """(start, matched text, groups) of manager `index` in `content`, for its matchStringsStrategy."""
    regexes = [python_pattern(s) for s in MANAGERS[index]["matchStrings"]]
    strategy = MANAGERS[index].get("matchStringsStrategy", "any")
    found: list[tuple[int, str, dict[str, str]]] = []

    def groups_of(match: re.Match[str]) -> dict[str, str]:
        return {k: v for k, v in match.groupdict().items() if v is not None}

    if strategy == "any":
        # Each matchString on the whole file, every non-overlapping match (the `g` flag).
        for regex in regexes:
            found.extend((m.start(), m[0], groups_of(m)) for m in regex.finditer(content))
    elif strategy == "recursive":
        # Each matchString within the matches of the previous one; the innermost match is what gets replaced.
        def walk(level: int, text: str, offset: int, groups: dict[str, str]) -> None:
            if level == len(regexes):
                found.append((offset, text, groups))
                return
            for m in regexes[level].finditer(text):
                walk(level + 1, m[0], offset + m.start(), {**groups, **groups_of(m)})

        walk(0, content, 0, {})
    else:
        pytest.fail(f"customManagers[{index}]: matchStringsStrategy {strategy!r} is not modelled by this test")
    return found


@functools.cache
def repository_files() -> dict[str, str]:
    """Every file Renovate would see: tracked and new files, not ignored ones."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=PROJECT_DIR, capture_output=True, check=True
    ).stdout.decode()
    files = {}
    for name in filter(None, listed.split("\0")):
        path = PROJECT_DIR / name
        if path.is_file():
            try:
                files[name] = path.read_text()
            except UnicodeDecodeError:
                continue
    return files


def files_of(index: int) -> list[str]:
    patterns = [file_pattern(p) for p in MANAGERS[index]["managerFilePatterns"]]
    return sorted(name for name in repository_files() if any(p.search(name) for p in patterns))


@functools.cache
def extracted() -> tuple[Dep, ...]:
    deps: list[Dep] = []
    for index in range(len(MANAGERS)):
        for name in files_of(index):
            deps.extend(dependency(index, name, start, text, groups) for start, text, groups in matches(index, repository_files()[name]))
    return tuple(deps)


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest); a copy in an ECR pull-through cache is the upstream repository it caches."""
    name, _, digest = image.partition("@")
    repository, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "")
    cached = PULL_THROUGH_COPY.fullmatch(repository)
    if cached and cached["upstream"] in PULL_THROUGH_UPSTREAMS:
        repository = PULL_THROUGH_UPSTREAMS[cached["upstream"]] + cached["path"].removeprefix("library/")
    return repository, tag or None, digest or None


def images_of(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["image"]] if isinstance(node.get("image"), str) else []
        return found + [i for v in node.values() for i in images_of(v)]
    if isinstance(node, list):
        return [i for v in node for i in images_of(v)]
    return []


def value_images(values: Any) -> list[tuple[str, str]]:
    """(repository, tag) of every image a release's values set (`image: {repository, tag}`), charts' defaults aside."""
    if isinstance(values, dict):
        own = (
            [(values["repository"], values["tag"])]
            if isinstance(values.get("repository"), str) and isinstance(values.get("tag"), str)
            else []
        )
        return own + [image for v in values.values() for image in value_images(v)]
    if isinstance(values, list):
        return [image for v in values for image in value_images(v)]
    return []


def deployed_pins() -> set[Pin]:
    """Charts, CRD release files and container images of both stacks' offline plans."""
    pins: set[Pin] = set()
    for stack in STACKS:
        plan = checked_in_plan(stack)
        for resource in plan.evaluation.resources:
            if resource.type == RELEASE:
                chart = inputs(resource)
                if chart["chart"].startswith("oci://"):
                    assert chart["chart"] in OCI_CHART_RELEASES, f"{chart['chart']}: which release does this OCI chart follow?"
                    pins.add(Pin("github-releases", OCI_CHART_RELEASES[chart["chart"]], None, chart["version"]))
                else:
                    pins.add(Pin("helm", chart["chart"], chart["repositoryOpts"]["repo"], chart["version"]))
                for value_repository, value_tag in value_images(chart.get("values", {})):
                    # A copy in the stack's pull-through cache is the upstream image it caches.
                    repository, version, value_digest = split_image(f"{value_repository}:{value_tag}")
                    pins.add(Pin("docker", repository, None, version, value_digest))
            elif resource.type == CONFIG_GROUP:
                for url in inputs(resource)["files"]:
                    source = RAW_GITHUB.fullmatch(url) or RELEASE_DOWNLOAD.fullmatch(url)
                    assert source, f"{url}: not a file of a GitHub release tag"
                    pins.add(Pin("github-releases", source["repo"], None, source["ref"]))
        for image in {i for obj in plan.objects for i in images_of(obj)}:
            repository, tag, digest = split_image(image)
            if repository in DERIVED_IMAGES:
                pins.add(Pin("github-releases", DERIVED_IMAGES[repository], None, tag))
                if digest:
                    # Its tag follows the release; production's digest of that tag is stack config (platformImageDigests).
                    pins.add(Pin("docker", repository, None, tag, digest))
            else:
                pins.add(Pin("docker", repository, None, tag, digest))
    return pins


def tool_pins() -> set[Pin]:
    """Pins the plan does not show: every autoscaler chart, the tools of ./dev and .ci/run, Renovate's constraints."""
    pins = {Pin("helm", "cluster-autoscaler", gpu_addons.AUTOSCALER_CHART_REPO, v) for v in gpu_addons.AUTOSCALER_CHART_VERSIONS.values()}
    for name in TOOL_FILES:
        for variable, version in re.findall(r"^([A-Z][A-Z0-9_]*_VERSION)=(\S+)$", repository_files()[name], re.MULTILINE):
            assert variable in TOOL_SOURCES, f"{name}: {variable} is a pinned tool: annotate it for Renovate and add it to TOOL_SOURCES"
            pins.add(Pin(*TOOL_SOURCES[variable], None, version))
    for tool, version in CONFIG.get("constraints", {}).items():
        pins.add(Pin(*CONSTRAINT_SOURCES[tool], None, version))
    return pins


def test_custom_managers_compile_as_re2_and_python_regexes() -> None:
    for index, manager in enumerate(MANAGERS):
        assert manager["customType"] == "regex"
        assert manager.get("description"), f"customManagers[{index}] says what it is for"
        for pattern in manager["managerFilePatterns"]:
            file_pattern(pattern)
        for string in manager["matchStrings"]:
            # RE2 has no lookaround or backreference; Renovate would reject what Python accepts here.
            re2.compile(string)
            python_pattern(string)


def test_re2_finds_what_python_finds() -> None:
    for index, manager in enumerate(MANAGERS):
        for name in files_of(index):
            content = repository_files()[name]
            for string in manager["matchStrings"]:
                with_re2 = [(m.span(), m.groupdict()) for m in re2.compile(string).finditer(content)]
                with_python = [(m.span(), m.groupdict()) for m in python_pattern(string).finditer(content)]
                assert with_re2 == with_python, f"{name}: RE2 and Python differ on {string!r}"


def test_enabled_managers_and_the_files_they_own() -> None:
    assert set(CONFIG["enabledManagers"]) == {"custom.regex", "github-actions", "pep621"}
    for index in range(len(MANAGERS)):
        taken = [n for n in files_of(index) if n in BUILT_IN_FILES or n.startswith(WORKFLOWS)]
        assert not taken, f"customManagers[{index}] reads files a built-in manager owns: {taken}"


def test_every_pin_is_extracted_and_nothing_else() -> None:
    expected = deployed_pins() | tool_pins()
    found = {dep.pin for dep in extracted()}
    missing = sorted(expected - found, key=repr)
    unexpected = sorted(found - expected, key=repr)
    assert not missing, f"pins no custom manager extracts: {missing}"
    assert not unexpected, f"custom managers extract what is not a pin: {unexpected}"
    # The vLLM image of every model in every stack file, with its digest where the stack has one; then the digest of
    # every platform image the stack pins, for the image its comment names.
    for stack in STACKS:
        in_file = [d.pin for d in extracted() if d.file == f"Pulumi.{stack}.yaml"]
        config = yaml.safe_load(repository_files()[f"Pulumi.{stack}.yaml"])["config"]
        models = config["ai-serving:models"]
        platform = config.get("ai-serving:platformImageDigests", {})
        assert in_file[: len(models)] == [
            Pin("docker", m["image"]["repository"], None, m["image"]["tag"], m["image"].get("digest")) for m in models
        ]
        assert [(p.package, p.digest) for p in in_file[len(models) :]] == [
            (PLATFORM_IMAGE_REPOSITORIES[name], digest) for name, digest in platform.items()
        ]


def test_no_pin_is_extracted_twice_and_each_is_replaceable() -> None:
    by_file: dict[str, list[Dep]] = {}
    for dep in extracted():
        by_file.setdefault(dep.file, []).append(dep)
    for name, deps in by_file.items():
        spans = sorted((d.start, d.end, d.manager) for d in deps)
        for (_, end, first), (start, _, second) in itertools.pairwise(spans):
            assert start >= end, f"{name}: customManagers[{first}] and [{second}] both match at {start}"
        for dep in deps:
            # Renovate edits the first occurrence of the matched text in the file.
            assert repository_files()[name].index(dep.replace_string) == dep.start, f"{name}: {dep.replace_string!r} occurs earlier"


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("nvcr.io/nvidia/k8s-device-plugin:v0.17.1", ("nvcr.io/nvidia/k8s-device-plugin", "v0.17.1", None)),
        (f"vllm/vllm-openai@sha256:{'0' * 64}", ("vllm/vllm-openai", None, f"sha256:{'0' * 64}")),
        (
            f"111122223333.dkr.ecr.us-west-2.amazonaws.com/docker-hub/vllm/vllm-openai:v0.18.0@sha256:{'0' * 64}",
            ("vllm/vllm-openai", "v0.18.0", f"sha256:{'0' * 64}"),
        ),
        ("111122223333.dkr.ecr.us-east-1.amazonaws.com/docker-hub/library/redis:7", ("redis", "7", None)),
        ("111122223333.dkr.ecr.us-east-1.amazonaws.com/registry-k8s/x/epp:v1", ("registry.k8s.io/x/epp", "v1", None)),
        # The project's own repository is not a cached copy.
        (
            "111122223333.dkr.ecr.us-east-1.amazonaws.com/ai-serving/vllm-server:v1",
            ("111122223333.dkr.ecr.us-east-1.amazonaws.com/ai-serving/vllm-server", "v1", None),
        ),
    ],
)
def test_split_image(image: str, expected: tuple[str, str | None, str | None]) -> None:
    assert split_image(image) == expected


def _version_constants() -> list[tuple[str, str, int]]:
    """Module-level `NAME_VERSION = "<version>"` of the program's packages: (file, name, line)."""
    found = []
    for name, content in repository_files().items():
        if name.endswith(".py") and name.split("/", 1)[0] in {"catalogs", "components", "infra"}:
            for node in ast.parse(content).body:
                if (
                    isinstance(node, ast.Assign)
                    and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id.endswith("_VERSION")
                    and isinstance(node.value, ast.Constant)
                    and isinstance(node.value.value, str)
                    and VERSION_LIKE.fullmatch(node.value.value)
                ):
                    found.append((name, node.targets[0].id, node.lineno))
    return found


def test_every_version_constant_is_managed_or_explained() -> None:
    constants = _version_constants()
    assert {(f, n) for f, n, _ in constants} >= set(UNMANAGED_CONSTANTS)
    for name, constant, line in constants:
        content = repository_files()[name]
        start = sum(len(x) for x in content.splitlines(keepends=True)[: line - 1])
        covering = [d for d in extracted() if d.file == name and d.start <= start < d.end]
        if (name, constant) in UNMANAGED_CONSTANTS:
            assert not covering, f"{name}: {constant} is listed as unmanaged but a manager extracts it"
        else:
            assert len(covering) == 1, f"{name}: {constant} is a pin: annotate it with '# renovate: datasource=... depName=...'"


def test_derived_pins_follow_their_release() -> None:
    # The EPP image is not pinned on its own: it is the Inference Extension release the CRDs come from.
    assert edge_epp.EPP_IMAGE.endswith(f":{edge_crds.INFERENCE_EXTENSION_VERSION}")
    # Renovate locks uv.lock with the uv that ./dev and the workflows install.
    uv = re.search(r"^UV_VERSION=(\S+)$", repository_files()["dev"], re.MULTILINE)
    assert uv is not None and CONFIG["constraints"]["uv"] == uv[1]


def _manager(description_start: str) -> int:
    [index] = [i for i, m in enumerate(MANAGERS) if m["description"].startswith(description_start)]
    return index


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("image:\n  repository: vllm/vllm-openai\n  tag: v0.18.0\nvllm:\n", ("vllm/vllm-openai", "v0.18.0", None)),
        (
            f"image:\n    repository: a/b\n    tag: v1\n    # note\n    #   more\n    digest: sha256:{'ab' * 32}\n",
            ("a/b", "v1", f"sha256:{'ab' * 32}"),
        ),
        # Other keys and comments between tag and digest.
        (
            f"image:\n  repository: a/b\n  tag: v1\n  # size\n  sizeGib: 10\n  # note\n  digest: sha256:{'cd' * 32}\nvllm:\n",
            ("a/b", "v1", f"sha256:{'cd' * 32}"),
        ),
        # A single-line image (the GCP path's own application image) is not a stack-file serving image.
        ("app:\n  image: us-central1-docker.pkg.dev/p/r/app@sha256:" + "0" * 64 + "\n", None),
    ],
)
def test_stack_image_regex(text: str, expected: tuple[str, str, str | None] | None) -> None:
    found = matches(_manager("Serving images of the models"), text)
    if expected is None:
        assert found == []
    else:
        [(_, _, groups)] = found
        assert (groups["depName"], groups["currentValue"], groups.get("currentDigest")) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('# renovate: datasource=github-releases depName=o/r\nX_VERSION = "v1.2.3"\n', ("o/r", "v1.2.3")),
        ("# renovate: datasource=pypi depName=uv\nUV_VERSION=0.13.8\n", ("uv", "0.13.8")),
        # Not a literal version: an f-string or a name.
        ('# renovate: datasource=docker depName=x/y\nX_IMAGE = f"x/y:{V}"\n', None),
        ("# renovate: datasource=pypi depName=uv\nUV_VERSION = OTHER\n", None),
        # The annotation must be directly above the pin.
        ('# renovate: datasource=pypi depName=uv\n\nUV_VERSION = "1.0"\n', None),
    ],
)
def test_annotation_regex(text: str, expected: tuple[str, str] | None) -> None:
    found = matches(_manager("Versions annotated"), text)
    assert [(g["depName"], g["currentValue"]) for _, _, g in found] == ([expected] if expected else [])


def test_image_constant_regex_ignores_computed_images() -> None:
    index = _manager("Container images in Python constants")
    assert matches(index, 'EPP_IMAGE = f"registry.k8s.io/x/epp:{VERSION}"\n') == []
    [(_, _, groups)] = matches(index, f'A_IMAGE = "nvcr.io/nvidia/p:v0.17.1@sha256:{"1" * 64}"\n')
    assert (groups["depName"], groups["currentValue"], groups["currentDigest"]) == ("nvcr.io/nvidia/p", "v0.17.1", f"sha256:{'1' * 64}")


def _rules_naming(package: str) -> list[dict[str, Any]]:
    return [r for r in CONFIG["packageRules"] if package in r.get("matchPackageNames", [])]


def test_package_rules_name_real_packages() -> None:
    project = tomllib.loads(repository_files()["pyproject.toml"])
    declared = project["project"]["dependencies"] + [d for group in project["dependency-groups"].values() for d in group]
    python_packages = {re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0] for d in declared}
    known = {dep.pin.package for dep in extracted()} | python_packages | BUILT_IN_WORKFLOW_PACKAGES
    for rule in CONFIG["packageRules"]:
        unknown = set(rule.get("matchPackageNames", [])) - known
        assert not unknown, f"packageRule {rule.get('description') or rule} names packages nothing extracts: {unknown}"


@pytest.mark.parametrize(
    "together",
    [
        # A chart and the CRD release of the app it runs; the edge's compatible set; tools a test requires equal.
        ["argo-rollouts", "argoproj/argo-rollouts"],
        ["kube-prometheus-stack", "prometheus-operator/prometheus-operator"],
        ["argo-cd", "argoproj/argo-cd"],
        ["kubernetes-sigs/gateway-api", "kubernetes-sigs/gateway-api-inference-extension", "envoyproxy/gateway", "envoyproxy/ai-gateway"],
        ["uv", "astral-sh/uv"],
        ["pulumi", "pulumi/pulumi"],
    ],
)
def test_what_must_move_together_is_one_group(together: list[str]) -> None:
    groups = {r["groupName"] for package in together for r in _rules_naming(package) if "groupName" in r}
    assert len(groups) == 1, f"{together} are in groups {groups}"


def test_autoscaler_charts_get_patch_releases_only() -> None:
    # Without separateMinorPatch a patch release is offered only as part of the newest minor, which is disabled.
    rules = _rules_naming("cluster-autoscaler")
    assert any(r.get("separateMinorPatch") is True for r in rules)
    assert [r for r in rules if r.get("enabled") is False] == [
        {"matchPackageNames": ["cluster-autoscaler"], "matchUpdateTypes": ["major", "minor"], "enabled": False}
    ]


def test_automerge_only_for_development_tools() -> None:
    assert CONFIG["automerge"] is False
    assert not CONFIG["lockFileMaintenance"].get("automerge")
    automerged = [r for r in CONFIG["packageRules"] if r.get("automerge")]
    assert automerged == [
        {
            "description": automerged[0]["description"],
            "matchManagers": ["pep621"],
            "matchDepTypes": ["dependency-groups"],
            "groupName": "Python development tools",
            "automerge": True,
        }
    ]


def test_bump_pull_requests_get_the_offline_plan_diff() -> None:
    # Renovate opens ordinary pull requests against main from branches of this repository: "PR checks" must run
    # on every one of them, whatever files it changes.
    workflow = yaml.safe_load((PROJECT_DIR / ".github/workflows/pr-checks.yml").read_text())
    trigger = workflow[True]["pull_request"]  # PyYAML reads the key `on` as True
    assert trigger == {"branches": ["main"]}
    assert all("if" not in job for job in workflow["jobs"].values())
    assert "offline-plan" in workflow["jobs"]


def test_ci_validates_the_configuration_with_renovate_itself() -> None:
    ci = repository_files()[".ci/run"]
    assert "renovate-config-validator --strict" in ci
    assert re.search(r'--package "renovate@\$RENOVATE_VERSION"', ci)
    assert Path(PROJECT_DIR / CONFIG_FILE).is_file()
