"""The bootstrap program's config (`ai-serving-bootstrap:*` in `Pulumi.<stack>.yaml`), validated before any resource
is declared: every problem at once, one per line, naming the key."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

NAMESPACE = "ai-serving-bootstrap"


# S3 general purpose bucket names: 3-63 characters, lowercase letters, digits, dots and hyphens; no dots here
# (a dotted name breaks virtual-hosted TLS) and no `xn--` prefix or `-s3alias` suffix (reserved by S3).
def _not_reserved_by_s3(name: str) -> str:
    if name.startswith("xn--") or name.endswith(("-s3alias", "--ol-s3")):
        raise ValueError("the prefix xn-- and the suffixes -s3alias, --ol-s3 are reserved by S3")
    return name


def _not_aws_managed(alias: str) -> str:
    if alias.startswith("aws/"):
        raise ValueError("aliases under aws/ are reserved for AWS managed keys")
    return alias


BucketName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"), AfterValidator(_not_reserved_by_s3)]
# A KMS alias name without the `alias/` prefix.
KeyAlias = Annotated[str, Field(pattern=r"^[a-zA-Z0-9/_-]{1,250}$"), AfterValidator(_not_aws_managed)]
# A principal that can appear in a key policy: an IAM user or role of an account (not an assumed-role session,
# which expires and so would leave the key without an administrator).
PrincipalArn = Annotated[str, Field(pattern=r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:(role|user)/[A-Za-z0-9+=,.@_/-]+$")]


class BootstrapConfig(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, str_strip_whitespace=True)

    state_bucket_name: BucketName
    # Default: `<stateBucketName>-access-logs`.
    log_bucket_name: BucketName | None = None
    secrets_key_alias: KeyAlias = "ai-serving-pulumi-secrets"
    state_key_alias: KeyAlias = "ai-serving-pulumi-state"
    noncurrent_version_retention_days: int = Field(default=90, ge=7, le=3650)
    access_log_retention_days: int = Field(default=365, ge=30, le=3650)
    admin_principal_arns: list[PrincipalArn] = Field(min_length=1)

    @field_validator("admin_principal_arns")
    @classmethod
    def _unique(cls, arns: list[str]) -> list[str]:
        if len(set(arns)) != len(arns):
            raise ValueError("each principal once")
        return arns

    @property
    def access_log_bucket(self) -> str:
        return self.log_bucket_name or f"{self.state_bucket_name}-access-logs"


class BootstrapConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def load_bootstrap_config(raw: dict[str, Any]) -> BootstrapConfig:
    """Parse the `ai-serving-bootstrap:*` values (keys without the namespace); raise one line per problem."""
    try:
        cfg = BootstrapConfig.model_validate(raw)
    except ValidationError as err:
        raise BootstrapConfigError([f"{NAMESPACE}:{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()]) from None
    if len(cfg.access_log_bucket) > 63:
        raise BootstrapConfigError([f"{NAMESPACE}:logBucketName: {cfg.access_log_bucket!r} is longer than 63 characters; set it"])
    if cfg.access_log_bucket == cfg.state_bucket_name:
        raise BootstrapConfigError([f"{NAMESPACE}:logBucketName: must differ from stateBucketName"])
    return cfg
