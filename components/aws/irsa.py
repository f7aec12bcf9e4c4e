"""IAM roles for Kubernetes service accounts (IRSA): a role only one service account of one cluster can assume."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from .iam_documents import STS_AUDIENCE, PolicyDocument


def issuer_host(oidc_provider_url: str) -> str:
    """The issuer as IAM condition keys spell it: without the scheme (pulumi-eks reports it with https://)."""
    return oidc_provider_url.removeprefix("https://").rstrip("/")


def irsa_trust_policy(oidc_provider_arn: str, oidc_provider_url: str, namespace: str, service_account: str) -> PolicyDocument:
    """Trust exactly one service account: StringEquals on both `sub` and `aud`, never a wildcard."""
    host = issuer_host(oidc_provider_url)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": oidc_provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                        f"{host}:aud": STS_AUDIENCE,
                    }
                },
            }
        ],
    }


def irsa_role(
    name: str,
    *,
    oidc_provider_arn: pulumi.Input[str],
    oidc_provider_url: pulumi.Input[str],
    namespace: str,
    service_account: str,
    description: str,
    permissions_boundary: pulumi.Input[str] | None,
    opts: pulumi.ResourceOptions,
) -> aws.iam.Role:
    trust = pulumi.Output.all(oidc_provider_arn, oidc_provider_url).apply(
        lambda v: json.dumps(irsa_trust_policy(v[0], v[1], namespace, service_account), sort_keys=True)
    )
    return aws.iam.Role(
        name,
        assume_role_policy=trust,
        description=description,
        max_session_duration=3600,
        permissions_boundary=permissions_boundary,
        opts=opts,
    )
