"""GCP invariants: Workload Identity Federation pinned to the repository; GPU VMs private, with their own account."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .model import PolicyResource, StackFacts, mapping, sequence

WIF_PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
COMPUTE_TYPES = frozenset({"gcp:compute/instance:Instance", "gcp:compute/instanceTemplate:InstanceTemplate"})
# An equality on the repository (by name or, better, by its immutable numeric id) in the provider's CEL condition.
_REPOSITORY_PINNED = re.compile(r"assertion\.repository(_id)?\s*==\s*['\"][^'\"]+['\"]")
_DEFAULT_COMPUTE_ACCOUNT = re.compile(r"^\d+-compute@developer\.gserviceaccount\.com$")


def wif_pins_repository(resource: PolicyResource, _: StackFacts) -> Iterator[str]:
    """Without an attribute condition, every GitHub repository could exchange its token through the pool."""
    condition = resource.props.get("attributeCondition")
    if not isinstance(condition, str) or not _REPOSITORY_PINNED.search(condition):
        yield f"attributeCondition {condition!r} does not pin the repository (assertion.repository_id == '...')"


def private_vm_with_own_account(resource: PolicyResource, _: StackFacts) -> Iterator[str]:
    """GPU VMs are reached through IAP only and act as their own service account, never the project's default one."""
    for i, interface in enumerate(sequence(resource.props.get("networkInterfaces"))):
        if sequence(mapping(interface).get("accessConfigs")) or sequence(mapping(interface).get("ipv6AccessConfigs")):
            yield f"networkInterfaces[{i}] has an external IP (accessConfigs)"
    email = mapping(resource.props.get("serviceAccount")).get("email")
    if not isinstance(email, str) or not email or email == "default" or _DEFAULT_COMPUTE_ACCOUNT.match(email):
        yield f"serviceAccount.email is {email!r}; a dedicated service account is required, not the Compute Engine default"
