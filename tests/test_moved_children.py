"""components/moved_children.py: a moved child's old logical name, from the component's name and the old prefix."""

import pytest

from components.moved_children import MovedChildren, old_child_name

MOVED = MovedChildren(old_parent_type="my:pkg:Old", old_parent_name="old", old_name_prefix="old-part")


def test_the_part_after_the_component_name_follows_the_old_prefix() -> None:
    assert old_child_name(MOVED, "new", "new-deploy-sa") == "old-part-deploy-sa"
    assert old_child_name(MOVED, "new", "new") == "old-part"


def test_a_child_not_named_after_its_component_is_refused() -> None:
    with pytest.raises(ValueError, match="not named after its component"):
        old_child_name(MOVED, "new", "other-deploy-sa")
