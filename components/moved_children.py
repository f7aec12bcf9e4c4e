"""Children that moved into a component from another parent: each gets a Pulumi alias to the URN it had there.

A resource's URN holds its parent's type and its own logical name. Moving it under a new component changes both;
without an alias, the next `pulumi up` would create the resource under the new URN and delete the old one. Where
the children were is the history of the program that moved them, so the program passes it in (in the component's
Args); the component derives each child's old URN from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi


@dataclass(frozen=True)
class MovedChildren:
    """The former parent, a component at the stack's root (its type token and logical name), and the prefix the
    children's logical names had under it: a child now named `<component name><rest>` was `<old_name_prefix><rest>`."""

    old_parent_type: str
    old_parent_name: str
    old_name_prefix: str


def old_child_name(moved: MovedChildren, component_name: str, child_name: str) -> str:
    """The logical name the child had under the former parent."""
    if not child_name.startswith(component_name):
        raise ValueError(f"child {child_name!r} is not named after its component {component_name!r}; its old name cannot be derived")
    return moved.old_name_prefix + child_name[len(component_name) :]


def moved_child_aliases(moved: MovedChildren | None, component_name: str, child_name: str) -> list[pulumi.Alias]:
    """The child's alias to its URN under the former parent (same type, old name); none when nothing moved."""
    if moved is None:
        return []
    old_parent_urn = pulumi.create_urn(moved.old_parent_name, moved.old_parent_type)
    return [pulumi.Alias(name=old_child_name(moved, component_name, child_name), parent=old_parent_urn)]
