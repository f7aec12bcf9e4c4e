"""Artifact Registry image references: which repository an image lives in, so the VM can be granted read on that
repository alone (not the project), and the deploy helper can refuse images from anywhere else."""

from __future__ import annotations

import re
from dataclasses import dataclass

_IMAGE = re.compile(
    r"^(?P<location>[a-z]+(?:-[a-z]+\d?)*\d?)-docker\.pkg\.dev/"
    r"(?P<project>[a-z][a-z0-9-]{4,28}[a-z0-9])/"
    r"(?P<repository>[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?)/"
    r"(?P<path>[a-z0-9](?:[a-z0-9._/-]*[a-z0-9])?)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


@dataclass(frozen=True)
class ArtifactRegistryImage:
    location: str  # e.g. "us-central1" or the multi-region "us"
    project: str
    repository: str
    path: str
    tag: str | None
    digest: str | None

    @property
    def registry_host(self) -> str:
        return f"{self.location}-docker.pkg.dev"

    @property
    def repository_prefix(self) -> str:
        """Every image the VM may run starts with this (the deploy helper checks it)."""
        return f"{self.registry_host}/{self.project}/{self.repository}/"


def parse_image(image: str) -> ArtifactRegistryImage | None:
    """The parts of an Artifact Registry Docker image reference with a tag and/or a digest; None otherwise."""
    match = _IMAGE.match(image)
    if match is None or (match.group("tag") is None and match.group("digest") is None):
        return None
    return ArtifactRegistryImage(
        location=match.group("location"),
        project=match.group("project"),
        repository=match.group("repository"),
        path=match.group("path"),
        tag=match.group("tag"),
        digest=match.group("digest"),
    )
