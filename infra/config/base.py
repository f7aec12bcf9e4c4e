"""Shared building blocks for the typed stack configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from catalogs.naming import DNS_LABEL_MAX_LENGTH, dns_label_pattern

NAMESPACE = "ai-serving"


# A config value that becomes a Kubernetes or cloud name: catalogs.naming's one rule. Namespaces, Argo CD names and
# a model's node group are used as they are, so the full length; names that prefix derived names use a shorter limit
# with `dns_label_pattern(n)`.
DnsLabel = Annotated[str, Field(pattern=dns_label_pattern(DNS_LABEL_MAX_LENGTH))]
# A container image's content address: a tag can be re-pushed, a digest cannot change.
ImageDigest = Annotated[str, Field(pattern=r"^sha256:[a-f0-9]{64}$")]


class StrictModel(BaseModel):
    """Base for every config section: camelCase keys as in Pulumi.<stack>.yaml, typos rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
    )


@dataclass(frozen=True)
class ConfigProblem:
    """One invalid value: where it is, what it was, what is allowed."""

    path: str
    value: object
    allowed: str

    def __str__(self) -> str:
        return f"{self.path}: got {self.value!r}; {self.allowed}"


class ConfigError(Exception):
    """Raised before any resource is declared; carries one problem per line."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _format_loc(top_key: str, loc: tuple[int | str, ...]) -> str:
    path = f"{NAMESPACE}:{top_key}"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


_MISSING = "<missing>"


def problems_from_validation_error(err: ValidationError) -> list[ConfigProblem]:
    """Translate pydantic's errors into key-path lines (the first loc element is the top-level key)."""
    problems = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        # Union members and tagged choices add their own loc parts; keep the config path readable.
        loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in {"str", "int"})))
        top, rest = (str(loc[0]), loc[1:]) if loc else ("<root>", ())
        value = e.get("input", _MISSING) if e["type"] != "missing" else _MISSING
        if e["type"] == "extra_forbidden":
            allowed = "unknown key (check the spelling; see the config reference in the README)"
        elif e["type"] == "missing":
            allowed = "required key is missing"
        else:
            allowed = e["msg"][0].lower() + e["msg"][1:]
            allowed = allowed.removeprefix("value error, ")
        problems.append(ConfigProblem(_format_loc(top, rest), value, allowed))
    return problems


def key_path(top_key: str, *parts: int | str) -> str:
    """The user-facing path of a config value, e.g. ai-serving:gpuNodeGroups[0].minSize."""
    return _format_loc(top_key, parts)
