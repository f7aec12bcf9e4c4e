"""What the CI image push role may do: push the serving image to the stack's ECR repository, nothing else."""

from __future__ import annotations

from .iam_documents import PolicyDocument


def image_push_policy(repository_arn: str) -> PolicyDocument:
    """Push (and read back, for build cache and "does this tag exist" checks) to the serving repository only.
    GetAuthorizationToken has no resource-level permissions: AWS accepts it only on "*"."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "EcrLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
            {
                "Sid": "PushServingImage",
                "Effect": "Allow",
                "Action": [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:InitiateLayerUpload",
                    "ecr:UploadLayerPart",
                    "ecr:CompleteLayerUpload",
                    "ecr:PutImage",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:DescribeImages",
                ],
                "Resource": repository_arn,
            },
        ],
    }
