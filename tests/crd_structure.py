"""A structural check of a custom resource against the openAPIV3Schema of its CRD in ../shared/schemas/crds:
unknown fields, required fields, enums, basic types and list sizes (no CEL, no patterns: validate-manifests
does the full check on rendered plans)."""

from __future__ import annotations

import functools
from typing import Any

import yaml

from tests import upstream

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


@functools.cache
def _schema(group: str, kind: str, version: str) -> dict[str, Any]:
    crd = upstream.crd_schema_for(group, kind)
    assert crd is not None, f"no CRD for {group}/{kind} in ../shared"
    path = upstream.CRD_SCHEMAS / f"{crd.project}-{crd.release}-{group}_{crd.plural}.yaml"
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document = yaml.load(upstream.shared_file(path).read_text(), Loader=loader)
    versions = [v for v in document["spec"]["versions"] if v["name"] == version and v["served"]]
    assert versions, f"{group}/{kind} serves no {version}"
    schema: dict[str, Any] = versions[0]["schema"]["openAPIV3Schema"]
    return schema


def problems(obj: dict[str, Any]) -> list[str]:
    group, _, version = obj["apiVersion"].rpartition("/")
    schema = _schema(group, obj["kind"], version)
    found: list[str] = []
    for key in ("spec",):
        if key in obj:
            _walk(obj[key], schema["properties"][key], key, found)
    return found


def _walk(value: Any, schema: dict[str, Any], path: str, found: list[str]) -> None:
    if schema.get("x-kubernetes-int-or-string") and isinstance(value, int | str):
        return
    expected = schema.get("type")
    if expected and not (isinstance(value, _TYPES[expected]) and not (expected != "boolean" and isinstance(value, bool))):
        found.append(f"{path}: {value!r} is not {expected}")
        return
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, dict):
        properties = schema.get("properties")
        for required in schema.get("required", []):
            if required not in value:
                found.append(f"{path}.{required}: required")
        for k, v in value.items():
            if properties is not None and k in properties:
                _walk(v, properties[k], f"{path}.{k}", found)
            elif isinstance(schema.get("additionalProperties"), dict):
                _walk(v, schema["additionalProperties"], f"{path}.{k}", found)
            elif properties is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
                found.append(f"{path}.{k}: unknown field")
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            found.append(f"{path}: more than {schema['maxItems']} items")
        if "minItems" in schema and len(value) < schema["minItems"]:
            found.append(f"{path}: fewer than {schema['minItems']} items")
        for i, item in enumerate(value):
            _walk(item, schema.get("items", {}), f"{path}[{i}]", found)
