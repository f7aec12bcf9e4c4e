"""Rules about where images come from: the pull-through cache's credentials, and production pulling from ECR only
(registered in CROSS_FIELD_CHECKS)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from catalogs.image_registries import UPSTREAMS, is_private_ecr, upstream_of

from .aws import UPSTREAM_CREDENTIAL_KEYS
from .base import ConfigProblem, key_path

if TYPE_CHECKING:
    from . import Environment, StackConfig


def cached_upstreams(cfg: StackConfig) -> list[str]:
    cache = cfg.ecr.pull_through_cache
    return list(cache.upstreams) if cache is not None else []


def image_source_problems(cfg: StackConfig, env: Environment) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    upstreams = cached_upstreams(cfg)
    for name in upstreams:
        key = UPSTREAM_CREDENTIAL_KEYS.get(name)
        if UPSTREAMS[name].needs_credentials and key is not None and key not in env.secrets_present:
            problems.append(
                ConfigProblem(
                    key_path(key),
                    None,
                    f"required secret when ecr.pullThroughCache lists {name}: pulumi config set --secret ai-serving:{key}"
                    ' \'{"username": "...", "accessToken": "..."}\'',
                )
            )
    if cfg.tier != "production":
        return problems
    for i, model in enumerate(cfg.models):
        repository = model.image.repository
        upstream = upstream_of(repository)
        if is_private_ecr(repository) or (upstream is not None and upstream.name in upstreams):
            continue
        allowed = f"add {upstream.name} to ecr.pullThroughCache.upstreams" if upstream else "use an image in ECR or on a cacheable registry"
        problems.append(
            ConfigProblem(
                key_path("models", i, "image", "repository"),
                repository,
                f"production pulls serving images from in-region ECR only: {allowed}",
            )
        )
    return problems
