"""The README's configuration reference and the docs' links stay true to the code."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from infra.config import SECRET_KEYS, StackConfig
from tests.harness import PROJECT_DIR

README = PROJECT_DIR / "README.md"
DOCS = [README, *sorted((PROJECT_DIR / "docs").glob("*.md"))]
# Keys of the providers' own namespaces that the README documents next to ours.
PROVIDER_KEYS = {"aws:defaultTags", "aws:region", "gcp:project"}


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _config_keys(model: type[BaseModel] = StackConfig, prefix: str = "") -> dict[str, str]:
    """Key path (as written in a stack file, lists without index) -> its last segment."""
    keys: dict[str, str] = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        path = f"{prefix}.{key}" if prefix else key
        keys[path] = key
        for nested in _models_in(field.annotation):
            keys |= _config_keys(nested, path)
    return keys


def _config_reference() -> str:
    text = README.read_text()
    return text[text.index("## Configuration reference") : text.index("## Development")]


def _documented_keys() -> list[str]:
    """Key names in the first column of the configuration reference's key tables."""
    keys: list[str] = []
    in_key_table = False
    for line in _config_reference().splitlines():
        if not line.startswith("|"):
            in_key_table = False
            continue
        first_cell = line.split("|")[1].strip()
        if first_cell in {"Key", "Top-level key"} or first_cell.startswith("Key ("):
            in_key_table = True
            continue
        if in_key_table:
            keys += re.findall(r"`([^`]+)`", first_cell)
    return keys


def test_every_config_key_is_documented_in_the_readme() -> None:
    reference = _config_reference()
    undocumented = [
        path
        for path, key in _config_keys().items()
        if not re.search(rf"`[^`\n]*(?<![A-Za-z0-9]){re.escape(key)}(?![A-Za-z0-9])[^`\n]*`", reference)
    ]
    assert undocumented == []


def test_every_documented_key_exists() -> None:
    known = set(_config_keys().values()) | SECRET_KEYS
    documented = _documented_keys()
    assert len(documented) > 50, "the key tables were not found"
    unknown = []
    for token in documented:
        if token in PROVIDER_KEYS:
            continue
        for alternative in token.split(" / "):
            last = alternative.removeprefix("ai-serving:").replace("[]", "").split(".")[-1]
            if last not in known:
                unknown.append(token)
    assert unknown == []


def _anchor(heading: str) -> str:
    # GitHub's heading ids: lowercase, punctuation dropped (hyphens and underscores kept), spaces to hyphens.
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {_anchor(m) for m in re.findall(r"^#+\s+(.+)$", text, flags=re.M)}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_and_anchors_resolve(doc: Path) -> None:
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
    broken = []
    for link in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", link):
            continue
        target_path, _, anchor = link.partition("#")
        target = (doc.parent / target_path).resolve() if target_path else doc
        if not target.exists() or (anchor and target.suffix == ".md" and anchor not in _anchors(target)):
            broken.append(link)
    assert broken == []


CODE_PATH = re.compile(r"(?<![\w/.-])((?:infra|components|catalogs|tests|docs|models)/[\w./*-]*[\w*])")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_code_paths_named_in_the_docs_exist(doc: Path) -> None:
    """A module that moved must not leave the docs pointing at its old place."""
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
    missing = sorted({p for p in CODE_PATH.findall(text) if not any(PROJECT_DIR.glob(p))})
    assert missing == []
