"""Reading IAM policy documents as resources carry them: a JSON string or a map, statements one or many."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from .model import PolicyResource, mapping, sequence

# Inputs that hold an IAM policy document, on every AWS type that has one (roles, inline and managed policies, key
# policies, repository, bucket and secret policies).
DOCUMENT_PROPERTIES = ("assumeRolePolicy", "policy")


def parse_document(value: Any) -> Mapping[str, Any] | None:
    """The document as a map; None when the value is not a policy document (absent, or not JSON)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    document = mapping(value)
    return document if "Statement" in document else None


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A document's statements; a single statement may be written as a map instead of a list."""
    statement = document.get("Statement")
    if isinstance(statement, Mapping):
        return [statement]
    return [mapping(s) for s in sequence(statement)]


def values(value: Any) -> list[Any]:
    """An IAM field that may be a string or a list of strings, as a list."""
    return [value] if isinstance(value, str) else list(sequence(value))


def resource_documents(resource: PolicyResource) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(where, document) for every policy document among the resource's inputs, inline role policies included."""
    for prop in DOCUMENT_PROPERTIES:
        document = parse_document(resource.props.get(prop))
        if document is not None:
            yield prop, document
    for i, inline in enumerate(sequence(resource.props.get("inlinePolicies"))):
        document = parse_document(mapping(inline).get("policy"))
        if document is not None:
            yield f"inlinePolicies[{i}].policy", document
