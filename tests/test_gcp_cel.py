"""cel_string_literal: any value becomes one CEL string literal (components/gcp/cel.py).

The expected literals were checked once against a CEL implementation (cel-python): each parses and evaluates
back to the original value.
"""

import pytest

from catalogs.github_subjects import GithubRepository
from components.gcp.cel import cel_string_literal
from components.gcp.pulumi_roles import grant_limit_condition
from components.gcp.wif import TokenContext, attribute_condition


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("roles/logging.logWriter", "'roles/logging.logWriter'"),
        ("", "''"),
        ("it's", r"'it\'s'"),
        ("back\\slash", r"'back\\slash'"),
        ("ends with \\", r"'ends with \\'"),
        # An escaped quote must not come undone: the backslash is escaped first, then the quote.
        ("\\'", r"'\\\''"),
        ("line\nbreak", r"'line\nbreak'"),
        ("cr\rlf\ttab", r"'cr\rlf\ttab'"),
        ('double "quotes" need nothing', "'double \"quotes\" need nothing'"),
        ("nul\x00bell\x07", r"'nul\u0000bell\u0007'"),
        ("zero\u200bwidth", r"'zero\u200bwidth'"),
        ("\U000e0001tag", r"'\U000e0001tag'"),
        ("été 日本 😀", "'été 日本 😀'"),
    ],
)
def test_literal_escapes_what_would_end_or_break_the_string(value: str, literal: str) -> None:
    assert cel_string_literal(value) == literal


def test_a_quote_cannot_turn_a_value_into_cel() -> None:
    injected = "x' || true || '"
    literal = cel_string_literal(injected)
    assert literal == r"'x\' || true || \''"
    # Only the first and last quotes are unescaped: the whole value stays one literal.
    unescaped_quotes = [i for i, c in enumerate(literal) if c == "'" and literal[i - 1] != "\\"]
    assert unescaped_quotes == [0, len(literal) - 1]


def test_lone_surrogates_are_refused() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        cel_string_literal("\ud800")


def test_both_cel_users_quote_through_it() -> None:
    repo = GithubRepository("example-org", "ai-serving")
    condition = attribute_condition(repo, [TokenContext("repo:example-org/ai-serving:ref:refs/heads/main", "refs/heads/it's")])
    assert condition.endswith(r"assertion.ref == 'refs/heads/it\'s'))")
    assert grant_limit_condition(["projects/p/roles/a'b"]).endswith(r"hasOnly(['projects/p/roles/a\'b'])")
