"""Upstream container registries ECR can cache (pull-through cache rules), and how an image reference maps onto them.

Shared by the config (which images a stack may pull through the cache), the AWS component (the rules) and the
serving pods (the rewritten image reference). ECR supports pull-through caching for Amazon ECR Public,
registry.k8s.io and Quay without credentials, and for Docker Hub (among others) only with credentials in a
Secrets Manager secret named `ecr-pullthroughcache/...`. NVIDIA's nvcr.io is not a supported upstream.
"""

from __future__ import annotations

from dataclasses import dataclass

# AWS requires this prefix on the name of a secret a pull-through cache rule uses.
CREDENTIAL_SECRET_PREFIX = "ecr-pullthroughcache/"
DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})


@dataclass(frozen=True)
class Upstream:
    # Also the ECR repository prefix of the cached copies: `<account>.dkr.ecr.<region>.amazonaws.com/<name>/...`.
    name: str
    # Host names an image reference uses for this registry.
    hosts: frozenset[str]
    # What the pull-through cache rule calls (upstreamRegistryUrl).
    registry_url: str
    needs_credentials: bool


UPSTREAMS: dict[str, Upstream] = {
    u.name: u
    for u in (
        Upstream("docker-hub", DOCKER_HUB_HOSTS, "registry-1.docker.io", needs_credentials=True),
        Upstream("quay", frozenset({"quay.io"}), "quay.io", needs_credentials=False),
        Upstream("registry-k8s", frozenset({"registry.k8s.io"}), "registry.k8s.io", needs_credentials=False),
        Upstream("ecr-public", frozenset({"public.ecr.aws"}), "public.ecr.aws", needs_credentials=False),
    )
}


def split_reference(repository: str) -> tuple[str, str]:
    """(registry host, repository path) of an image repository as Docker resolves it: no host means Docker Hub,
    and a single-component Docker Hub name is an official image under `library/`."""
    first, _, rest = repository.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, path = first, rest
    else:
        host, path = "docker.io", repository
    if host in DOCKER_HUB_HOSTS and "/" not in path:
        path = f"library/{path}"
    return host, path


def upstream_of(repository: str) -> Upstream | None:
    host, _ = split_reference(repository)
    return next((u for u in UPSTREAMS.values() if host in u.hosts), None)


def is_private_ecr(repository: str) -> bool:
    """An image already in a private ECR registry (`<account>.dkr.ecr.<region>.amazonaws.com/...`)."""
    host, _ = split_reference(repository)
    return ".dkr.ecr." in host and host.endswith(".amazonaws.com")


def ecr_registry_host(account_id: str, region: str) -> str:
    return f"{account_id}.dkr.ecr.{region}.amazonaws.com"


def cached_reference(registry_host: str, image: str) -> str:
    """`repository:tag[@digest]` as pulled through the stack's ECR: the same tag and digest, the cache's repository."""
    name, at, digest = image.partition("@")
    repository, _, tag = name.rpartition(":")
    return f"{cached_repository(registry_host, repository)}:{tag}{at}{digest}"


def cached_repository(registry_host: str, repository: str) -> str:
    """The repository as pulled through the stack's ECR: `<registry>/<upstream name>/<path>`."""
    upstream = upstream_of(repository)
    if upstream is None:
        raise ValueError(f"{repository!r} is not on a registry ECR can cache ({', '.join(sorted(UPSTREAMS))})")
    _, path = split_reference(repository)
    return f"{registry_host}/{upstream.name}/{path}"
