"""The one DNS-label rule (catalogs/naming.py) and the config keys that use it."""

from __future__ import annotations

import re

import pytest

from catalogs.naming import DNS_LABEL_MAX_LENGTH, dns_label_pattern


@pytest.mark.parametrize("name", ["a", "llm-serving", "gpu-l4", "a1", "x" * 63])
def test_valid_labels(name: str) -> None:
    assert re.match(dns_label_pattern(), name)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("1abc", "starts with a digit: not a valid Service name"),
        ("-abc", "starts with a hyphen"),
        ("abc-", "ends with a hyphen"),
        ("Abc", "upper case"),
        ("a_b", "underscore"),
        ("a.b", "dot (a subdomain, not a label)"),
        ("x" * 64, "longer than 63"),
    ],
)
def test_invalid_labels(name: str, why: str) -> None:
    assert not re.match(dns_label_pattern(), name), why


@pytest.mark.parametrize("limit", [1, 2, 32, 40, DNS_LABEL_MAX_LENGTH])
def test_a_lower_limit_is_exact(limit: int) -> None:
    assert re.match(dns_label_pattern(limit), "a" * limit)
    assert not re.match(dns_label_pattern(limit), "a" * (limit + 1))


@pytest.mark.parametrize("limit", [0, 64])
def test_limits_outside_a_label_are_refused(limit: int) -> None:
    with pytest.raises(ValueError, match="1 to 63"):
        dns_label_pattern(limit)
