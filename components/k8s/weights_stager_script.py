"""Copy one pinned Hugging Face revision into S3, once, verified: the program the weights-staging Job runs.

Shipped to the Job as a ConfigMap and run by the serving image's Python (which has huggingface_hub, and boto3 for
vLLM's S3 streamer). The pure functions at the top are unit-tested; `main` does the I/O.

Idempotent: the last object written is a manifest (path, size, sha256 of every file) under the prefix. A run that
finds the manifest it would write, with every object in place at the recorded size, does nothing. Verified: every
downloaded file is checked against the hub's own metadata before upload (LFS files: their sha256; small files:
their git blob id), and uploaded with an S3 SHA-256 checksum so S3 rejects a corrupted transfer.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MANIFEST_NAME = "ai-serving-manifest.json"
CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class HubFile:
    path: str
    size: int
    # sha256 of the content for LFS files (the hub's lfs.sha256); None for files kept in git.
    lfs_sha256: str | None
    # git blob id (sha1 of "blob <size>\0" + content): what verifies files kept in git.
    blob_id: str


def file_digests(path: str) -> tuple[int, str, str]:
    """(size, sha256, git blob sha1) of a local file, read once."""
    size = os.path.getsize(path)
    sha256 = hashlib.sha256()
    blob = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            sha256.update(chunk)
            blob.update(chunk)
    return size, sha256.hexdigest(), blob.hexdigest()


def verification_error(expected: HubFile, size: int, sha256: str, blob_id: str) -> str | None:
    if size != expected.size:
        return f"{expected.path}: {size} bytes, the hub says {expected.size}"
    if expected.lfs_sha256 is not None and sha256 != expected.lfs_sha256:
        return f"{expected.path}: sha256 {sha256}, the hub says {expected.lfs_sha256}"
    if expected.lfs_sha256 is None and blob_id != expected.blob_id:
        return f"{expected.path}: git blob {blob_id}, the hub says {expected.blob_id}"
    return None


def manifest(repo_id: str, revision: str, files: Iterable[tuple[HubFile, str]]) -> dict[str, Any]:
    """What was staged: the source, and per file its size and verified sha256 (sorted: comparable across runs)."""
    return {
        "repoId": repo_id,
        "revision": revision,
        "files": {f.path: {"size": f.size, "sha256": sha} for f, sha in sorted(files, key=lambda x: x[0].path)},
    }


def already_staged(existing: Mapping[str, Any] | None, repo_id: str, revision: str, object_sizes: Mapping[str, int]) -> bool:
    """The prefix holds a complete copy of this revision: its manifest, and every listed object at its size."""
    if not existing or existing.get("repoId") != repo_id or existing.get("revision") != revision:
        return False
    files = existing.get("files") or {}
    return bool(files) and all(object_sizes.get(path) == entry["size"] for path, entry in files.items())


def main() -> int:  # pragma: no cover - runs in the cluster against the hub and S3
    import boto3  # type: ignore[import-not-found]  # in the serving image, not in this project
    from huggingface_hub import HfApi, hf_hub_download  # type: ignore[import-not-found]
    from huggingface_hub.hf_api import RepoFile  # type: ignore[import-not-found]

    repo_id, revision, bucket, prefix = (os.environ[k] for k in ("REPO_ID", "REVISION", "BUCKET", "PREFIX"))
    work = os.environ.get("WORK_DIR", "/work")
    token_path = os.environ.get("HF_TOKEN_PATH")
    token = None
    if token_path and os.path.exists(token_path):
        with open(token_path) as token_file:
            token = token_file.read().strip()
    s3 = boto3.client("s3")

    sizes: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        sizes.update({o["Key"].removeprefix(f"{prefix}/"): o["Size"] for o in page.get("Contents", [])})
    existing = None
    if MANIFEST_NAME in sizes:
        existing = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}/{MANIFEST_NAME}")["Body"].read())
    if already_staged(existing, repo_id, revision, sizes):
        print(f"s3://{bucket}/{prefix}/ already holds {repo_id}@{revision}; nothing to do")
        return 0

    api = HfApi(token=token)
    entries = [e for e in api.list_repo_tree(repo_id, revision=revision, recursive=True) if isinstance(e, RepoFile)]
    files = [HubFile(e.path, e.size, e.lfs.sha256 if e.lfs else None, e.blob_id) for e in entries]
    staged: list[tuple[HubFile, str]] = []
    for f in files:
        local = hf_hub_download(repo_id, f.path, revision=revision, token=token, local_dir=work)
        size, sha256, blob_id = file_digests(local)
        error = verification_error(f, size, sha256, blob_id)
        if error is not None:
            print(f"verification failed: {error}", file=sys.stderr)
            return 1
        s3.upload_file(local, bucket, f"{prefix}/{f.path}", ExtraArgs={"ChecksumAlgorithm": "SHA256", "Metadata": {"sha256": sha256}})
        os.remove(local)
        staged.append((f, sha256))
        print(f"staged {f.path} ({size} bytes, sha256 {sha256})")
    body = json.dumps(manifest(repo_id, revision, staged), indent=1, sort_keys=True).encode()
    s3.put_object(Bucket=bucket, Key=f"{prefix}/{MANIFEST_NAME}", Body=body, ChecksumAlgorithm="SHA256")
    print(f"s3://{bucket}/{prefix}/ holds {repo_id}@{revision}: {len(staged)} files")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
