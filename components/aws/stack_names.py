"""Names of what one stack owns in its AWS account: the fixed-name prefix, the stack tag, and ARNs built from names.

Fixed names let workflows build a role's ARN before the stack has run once, and let the deploy role's
permissions be scoped by prefix (ci_deploy_policy.py).
"""

from __future__ import annotations

# Tag on the resources this area creates, so a human can tell which stack owns them.
STACK_TAG_KEY = "ai-serving:stack"


def stack_name_prefix(project: str, stack: str) -> str:
    """The prefix of every fixed name this area gives (roles, key alias): `<project>-<stack>-`."""
    return f"{project}-{stack}-"


def role_arn(account_id: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{name}"


def ecr_repository_arn(region: str, account_id: str, repository_name: str) -> str:
    return f"arn:aws:ecr:{region}:{account_id}:repository/{repository_name}"
