"""What `pulumi up` would do to each resource between two plans: create, update, replace or delete, as
`pulumi preview` decides it (replacement from the force-new table, delete-before-replace, protect)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from .diff_values import MISSING, changed_paths, value_at
from .force_new import ReplaceRule, path_forces_new, rule_for

# Resource fields besides inputs whose change the engine acts on.
_COMPARED_FIELDS = ("protect", "retainOnDelete", "ignoreChanges", "provider", "dependencies", "deleteBeforeReplace")


class Operation(Enum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"


@dataclass(frozen=True)
class ResourceChange:
    urn: str
    type: str
    name: str
    operation: Operation
    # Changed input paths (without the "inputs." prefix) and other changed fields ("protect", ...).
    input_paths: tuple[str, ...] = ()
    other_fields: tuple[str, ...] = ()
    # The input paths that force the replacement.
    replace_paths: tuple[str, ...] = ()
    delete_before_replace: bool = False
    # Deleting or replacing a protected resource: `pulumi up` refuses and stops.
    blocked: bool = False
    # What a replacement or deletion of a stateful resource loses, or why the decision is uncertain.
    warnings: tuple[str, ...] = ()

    @property
    def symbol(self) -> str:
        if self.operation is Operation.REPLACE:
            return "-+" if self.delete_before_replace else "+-"
        return {Operation.CREATE: "+", Operation.UPDATE: "~", Operation.DELETE: "-"}[self.operation]

    @property
    def label(self) -> str:
        if self.operation is Operation.REPLACE and self.delete_before_replace:
            return "replace (delete before replace)"
        return self.operation.value

    @property
    def impact(self) -> int:
        """Sort key: blocked first, then replace, delete, create, update."""
        order = (Operation.REPLACE, Operation.DELETE, Operation.CREATE, Operation.UPDATE)
        return (0 if self.blocked else 1) * 10 + order.index(self.operation)


def _loss_warning(rule: ReplaceRule | None, resource: dict[str, Any], verb: str) -> tuple[str, ...]:
    if rule is None or rule.loses is None:
        return ()
    if verb == "deleting" and resource.get("retainOnDelete"):
        return (f"deleting from the stack keeps it in the cloud (retainOnDelete): {rule.loses} stays",)
    return (f"{verb} {resource['type']} {resource['name']} loses {rule.loses}",)


def _forced_paths(rule: ReplaceRule, old_inputs: dict[str, Any], new_inputs: dict[str, Any], paths: list[str]) -> list[str]:
    forced = [p for p in paths if path_forces_new(rule, p)]
    for path in rule.shrink_replaces:
        before, after = value_at(old_inputs, path), value_at(new_inputs, path)
        if isinstance(before, int | float) and isinstance(after, int | float) and after < before and path not in forced:
            forced.append(path)
    return forced


def _deletes_first(rule: ReplaceRule, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Delete-before-replace: declared, or decided by the provider for an explicitly named resource whose name stays."""
    if new.get("deleteBeforeReplace"):
        return True
    if rule.name_input is None:
        return False
    name = value_at(new["inputs"], rule.name_input)
    return name is not MISSING and name == value_at(old["inputs"], rule.name_input)


def resource_change(old: dict[str, Any] | None, new: dict[str, Any] | None) -> ResourceChange | None:
    """The operation for one URN present in the base plan (`old`), the head plan (`new`) or both; None if unchanged."""
    if old is None and new is None:
        raise ValueError("a resource must be in at least one plan")
    some = new if new is not None else old
    assert some is not None
    rule = rule_for(some["type"])
    ident = {"urn": some["urn"], "type": some["type"], "name": some["name"]}
    if old is None:
        return ResourceChange(**ident, operation=Operation.CREATE)
    if new is None:
        protected = bool(old.get("protect"))
        return ResourceChange(**ident, operation=Operation.DELETE, blocked=protected, warnings=_loss_warning(rule, old, "deleting"))
    paths = changed_paths(old["inputs"], new["inputs"])
    others = tuple(f for f in _COMPARED_FIELDS if old.get(f) != new.get(f))
    if not paths and not others:
        return None
    unclassified = () if rule is not None else (f"{some['type']} is not in the force-new table: this may be a replacement",)
    forced = [] if rule is None or rule.component else _forced_paths(rule, old["inputs"], new["inputs"], paths)
    if not forced:
        return ResourceChange(**ident, operation=Operation.UPDATE, input_paths=tuple(paths), other_fields=others, warnings=unclassified)
    assert rule is not None
    return ResourceChange(
        **ident,
        operation=Operation.REPLACE,
        input_paths=tuple(paths),
        other_fields=others,
        replace_paths=tuple(forced),
        delete_before_replace=_deletes_first(rule, old, new),
        blocked=bool(old.get("protect")),
        warnings=_loss_warning(rule, old, "replacing"),
    )


def moved_resources(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> dict[str, str]:
    """New URN -> old URN for resources that moved or were renamed with an alias: the engine keeps them."""
    moved: dict[str, str] = {}
    for urn, resource in after.items():
        if urn in before:
            continue
        old = next((a for a in resource.get("aliases", []) if a in before and a not in after and a not in moved.values()), None)
        if old is not None:
            moved[urn] = old
    return moved


def _as_moved(old: dict[str, Any], urn: str, new: dict[str, Any], renamed: dict[str, str]) -> dict[str, Any]:
    """The old state as the engine sees it after following the aliases: new URN, references to moved resources
    renamed too."""

    def follow(ref: str | None) -> str | None:
        return renamed.get(ref, ref) if ref else ref

    return {
        **old,
        "urn": urn,
        "aliases": new.get("aliases"),
        "parent": follow(old.get("parent")),
        "provider": follow(old.get("provider")),
        "dependencies": sorted({follow(d) or d for d in old.get("dependencies", [])}),
    }


def plan_changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[ResourceChange], dict[str, str]]:
    """Every changed resource between two plan documents, most impactful first, then by URN; and the moved ones."""
    before = {r["urn"]: r for r in old["resources"]}
    after = {r["urn"]: r for r in new["resources"]}
    moved = moved_resources(before, after)
    gone = set(moved.values())
    renamed = {old_urn: new_urn for new_urn, old_urn in moved.items()}
    changes: list[ResourceChange | None] = []
    for urn in sorted(set(before) | set(after)):
        if urn in gone:
            continue
        previous = before.get(moved.get(urn, urn))
        # A moved resource compares with its old state under the new URN (the aliases themselves are no change).
        if urn in moved and previous is not None:
            previous = _as_moved(previous, urn, after[urn], renamed)
        changes.append(resource_change(previous, after.get(urn)))
    return sorted((c for c in changes if c is not None), key=lambda c: (c.impact, c.urn)), moved
