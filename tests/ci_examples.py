"""Example values shared by the CI identity tests (test_ci_policies, test_github_ci_identity)."""

from catalogs.github_subjects import GithubRepository
from components.aws.ci_state_access import StateBackend

ACCOUNT = "123456789012"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
REPO = GithubRepository("example-org", "ai-serving")
IMMUTABLE_REPO = GithubRepository("example-org", "ai-serving", owner_id=1234, repository_id=98765)
REPOSITORY_ARN = f"arn:aws:ecr:us-west-2:{ACCOUNT}:repository/ai-serving/vllm-server"
STATE = StateBackend("example-pulumi-state", (f"arn:aws:kms:us-west-2:{ACCOUNT}:key/0123abcd-0123-0123-0123-0123456789ab",))
