"""Entry point of the policy pack: `pulumi preview --policy-pack policy/` runs this file with policy/ on sys.path."""

import sys
from pathlib import Path

# The rules import the project's shared catalogs as `catalogs.*` and each other as `policy.*`: put the repository
# root first on the path, as it is for the program and the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policy.crossguard import resource_policies
from policy.pack import PACK_NAME

PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=resource_policies())
