"""What this area's IAM document builders share: the document type, the STS audience and the literal-value rule.

Every builder takes plain values and returns a plain dict (an IAM policy document). Registration code json.dumps
them; tests assert on them directly. Nothing here talks to Pulumi.
"""

from __future__ import annotations

import re
from typing import Any

PolicyDocument = dict[str, Any]

# The audience of the web-identity tokens exchanged with STS: aws-actions/configure-aws-credentials requests it
# from GitHub, and EKS projects it into service account tokens (IRSA). A provider lists it as its client id.
STS_AUDIENCE = "sts.amazonaws.com"

_IAM_WILDCARDS = re.compile(r"[*?]")


def has_iam_wildcard(value: str) -> bool:
    """IAM reads `*` and `?` as wildcards in ARNs and in *Like conditions, so a value meant literally (a trusted
    subject, a name prefix) must contain neither."""
    return _IAM_WILDCARDS.search(value) is not None
