"""Read the files a user writes (stack files, model records, thresholds) strictly: one located line per problem.

PyYAML alone accepts a repeated key (the last one wins), reports syntax errors as multi-line exceptions and reads
`kubernetesVersion: 1.30` as the number 1.3. `load_strict` composes the document first, so that every problem
can name file:line:column: tabs in indentation, duplicate keys (both lines), version-like keys written as bare
numbers, syntax errors, and (with `mapping=True`) an empty or non-mapping document. JSON files (`.json`) are
parsed as JSON (YAML would accept more), then composed as YAML for the same located checks (JSON is YAML flow
syntax; tabs are ordinary whitespace there).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

# Keys whose values are versions: a bare number would lose trailing zeros (1.30 -> 1.3) or its form (1.0 -> 1).
_VERSION_KEY = re.compile(r"(^|[a-z])([Vv]ersion|^tag|Tag|Revision|revision)$")


class InputFileError(Exception):
    """Problems in one input file, each a `file:line:column: message` line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def _at(label: str, mark: yaml.Mark | None) -> str:
    return f"{label}:{mark.line + 1}:{mark.column + 1}" if mark is not None else label


def _tab_problems(label: str, text: str) -> list[str]:
    problems = []
    for number, content in enumerate(text.splitlines(), start=1):
        indent = content[: len(content) - len(content.lstrip(" \t"))]
        if "\t" in indent:
            problems.append(f"{label}:{number}:{indent.index(chr(9)) + 1}: tab character in indentation; YAML indents with spaces only")
    return problems


def _node_problems(label: str, node: yaml.Node, path: str) -> list[str]:
    problems: list[str] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            child = f"{path}.{key}" if path else str(key)
            if key is not None and key in seen:
                first = seen[key].start_mark
                problems.append(
                    f"{_at(label, key_node.start_mark)}: duplicate key {child!r} (first at line {first.line + 1}); "
                    "YAML would keep only the last one: remove one of them"
                )
            elif key is not None:
                seen[key] = key_node
            if (
                isinstance(key, str)
                and _VERSION_KEY.search(key)
                and isinstance(value_node, yaml.ScalarNode)
                and value_node.style is None
                and value_node.tag in ("tag:yaml.org,2002:float", "tag:yaml.org,2002:int")
            ):
                problems.append(
                    f"{_at(label, value_node.start_mark)}: {child}: {value_node.value} is read as a number "
                    f'({_as_number(value_node)!r}); quote it: "{value_node.value}"'
                )
            problems += _node_problems(label, value_node, child)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems += _node_problems(label, item, f"{path}[{i}]")
    return problems


def _as_number(node: yaml.ScalarNode) -> Any:
    return yaml.safe_load(node.value)


def load_strict(path: Path, label: str | None = None, *, mapping: bool = True) -> Any:
    """The document in `path`, or InputFileError (also for an unreadable file). `label` names the file in messages."""
    label = label or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError([f"{label}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputFileError([f"{label}: cannot be read ({type(err).__name__}: {getattr(err, 'strerror', None) or err})"]) from None
    if path.suffix == ".json":
        return loads_strict_json(text, label, mapping=mapping)
    return loads_strict(text, label, mapping=mapping)


def loads_strict_json(text: str, label: str, *, mapping: bool = True) -> Any:
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        raise InputFileError([f"{label}:{err.lineno}:{err.colno}: not valid JSON: {err.msg}"]) from None
    return loads_strict(text, label, mapping=mapping, tabs_allowed=True)


def loads_strict(text: str, label: str, *, mapping: bool = True, tabs_allowed: bool = False) -> Any:
    tabs = [] if tabs_allowed else _tab_problems(label, text)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        problems = tabs + (_node_problems(label, node, "") if node is not None else [])
        if problems:
            raise InputFileError(problems)
        document = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as err:
        if tabs:
            raise InputFileError(tabs) from None
        mark = err.problem_mark or err.context_mark
        message = " ".join(part for part in (err.context, err.problem) if part)
        raise InputFileError([f"{_at(label, mark)}: YAML syntax error: {message}"]) from None
    except yaml.YAMLError as err:
        raise InputFileError(tabs or [f"{label}: YAML syntax error: {str(err).splitlines()[0]}"]) from None
    finally:
        loader.dispose()
    if mapping and not isinstance(document, dict):
        what = "empty" if document is None else f"a {type(document).__name__}, not a mapping"
        raise InputFileError([f"{label}:1:1: the file is {what}; expected a mapping of keys (e.g. config: ...)"])
    return document
