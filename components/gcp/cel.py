"""CEL (Common Expression Language) string literals for the expressions Google evaluates: the workload identity
provider's attribute condition (wif.py) and IAM conditions (pulumi_roles.py).

Those expressions are built from configured values (repository names, GitHub subjects and refs, role names). A
value pasted between quotes as-is could end the literal early: `x' || true || '` would turn "the token's subject
is x" into a condition every token meets. Quoting every value with `cel_string_literal` keeps it one string,
whatever characters it holds.
"""

from __future__ import annotations

# Escapes of the CEL language definition (cel-spec, "String and Bytes Values"). A single-quoted literal may not
# contain the quote, a lone backslash, or a raw line break; the tab is escaped only to keep the text on one line.
_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char.isprintable():
        return char
    # Other control and invisible characters as code point escapes, so the expression shows what it compares.
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        raise ValueError(f"lone surrogate U+{code:04X} has no CEL string form")
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def cel_string_literal(value: str) -> str:
    """`value` as a single-quoted CEL string literal that evaluates to exactly `value`."""
    return "'" + "".join(_escaped(char) for char in value) + "'"
