"""The project's security invariants as mandatory policies: one implementation, two runners.

The rules (rules_*.py) are pure functions over a resource's type, inputs and options. Two runners apply them:
`pulumi preview/up --policy-pack policy/` (CrossGuard, `__main__.py`) on what the engine is about to create, and
`ai-serving plan` (infra/plan/policy_check.py) on the offline plan. Rules import only the standard library and the
shared catalogs, so the policy pack needs nothing of the program to run.
"""
