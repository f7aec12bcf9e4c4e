"""Config section `ai-serving:ciRunners`: where the CI jobs that reach the EKS API (preview, deploy, drift) run.

The cluster's API endpoint admits only `cluster.publicAccessCidrs` (public endpoint) and the VPC (private endpoint).
GitHub-hosted runners have no fixed address, so unless the endpoint is open to the world those jobs cannot connect:
the stack must say where its runners are, and `ci_runner_problems` refuses a combination that cannot reach the API.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator

from .base import ConfigProblem, StrictModel, key_path

if TYPE_CHECKING:
    from . import Environment, StackConfig

RunnerLabel = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]


class CiRunnersConfig(StrictModel):
    # githubHosted: GitHub's runners (no fixed address); selfHosted: runners inside the stack's VPC (they reach the
    # private endpoint); staticIp: runners whose egress addresses are `cidrs` (e.g. GitHub larger runners with
    # static IP ranges), which `cluster.publicAccessCidrs` must admit.
    kind: Literal["githubHosted", "selfHosted", "staticIp"] = "githubHosted"
    # The `runs-on` label of those jobs: set the repository variable PULUMI_RUNNER to it (stack output ciRunnerLabel).
    label: RunnerLabel = "ubuntu-24.04"
    cidrs: list[IPv4Network] = []

    @model_validator(mode="after")
    def _cidrs_for_static_ip_only(self) -> CiRunnersConfig:
        if self.kind == "staticIp" and not self.cidrs:
            raise ValueError("kind staticIp needs the runners' egress cidrs")
        if self.kind != "staticIp" and self.cidrs:
            raise ValueError(f"cidrs apply to kind staticIp only (kind is {self.kind})")
        return self


def ci_runner_problems(cfg: StackConfig, env: Environment) -> list[ConfigProblem]:
    """The runners must be able to reach the cluster's API endpoint."""
    runners, cluster = cfg.ci_runners, cfg.cluster
    if runners.kind == "selfHosted":
        # The private endpoint is always on: runners in the VPC reach it.
        return []
    public = cluster.public_access_cidrs if cluster.public_endpoint else []
    if runners.kind == "githubHosted":
        if any(c.prefixlen == 0 for c in public):
            return []
        return [
            ConfigProblem(
                key_path("ciRunners", "kind"),
                runners.kind,
                "GitHub-hosted runners have no fixed address and the API endpoint admits only "
                f"{', '.join(map(str, public)) or 'the VPC'}: use selfHosted runners in the VPC, or staticIp runners "
                "whose cidrs cluster.publicAccessCidrs admits (docs/delivery.md)",
            )
        ]
    problems = []
    for i, cidr in enumerate(runners.cidrs):
        if not any(cidr.subnet_of(allowed) for allowed in public):
            problems.append(
                ConfigProblem(
                    key_path("ciRunners", "cidrs", i),
                    str(cidr),
                    f"the API endpoint does not admit it: add it to cluster.publicAccessCidrs ({', '.join(map(str, public)) or 'public endpoint off'})",
                )
            )
    return problems
