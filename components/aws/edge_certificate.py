"""The edge's TLS certificate: a public ACM certificate for one host name, validated through Route 53 records that
the program declares in the given hosted zone.

`certificate_arn` is the ARN as `CertificateValidation` returns it, so whatever uses it (the NLB's TLS listener)
waits until ACM has issued the certificate.

Replacement (a new host name): Pulumi creates the new certificate before it deletes the old one (its default; this
component never sets `delete_before_replace`), and deletes the old one only at the end of the update, after the
Service annotation that names it has been updated. ACM refuses to delete a certificate a load balancer still uses
(ResourceInUseException); the AWS provider retries that for up to 20 minutes while the Load Balancer Controller moves
the listener to the new certificate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

# The validation CNAME only has to outlive ACM's check (and each renewal's): a short TTL lets a fix take effect fast.
VALIDATION_RECORD_TTL = 60


@dataclass(frozen=True)
class EdgeCertificateArgs:
    # The endpoint's host name (no wildcard): the certificate's only name.
    host: str
    # The Route 53 hosted zone that holds `host`: the validation record goes there.
    hosted_zone_id: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ValidationRecord:
    """One DNS record ACM asks for to prove control of a name."""

    name: str
    type: str
    value: str


def validation_record(options: Sequence[aws.acm.outputs.CertificateDomainValidationOption], domain: str) -> ValidationRecord:
    """The record that validates `domain`, from the certificate's `domain_validation_options`.

    ACM lists one option per name of the certificate, and names that share a record (a name and its wildcard) list
    the same record: the certificate has one name, so one record is declared.
    """
    for option in options:
        if option.domain_name == domain and option.resource_record_name and option.resource_record_type and option.resource_record_value:
            return ValidationRecord(name=option.resource_record_name, type=option.resource_record_type, value=option.resource_record_value)
    raise ValueError(f"ACM returned no DNS validation record for {domain!r}")


class EdgeCertificate(pulumi.ComponentResource):
    # The validated certificate's ARN: resolves only once ACM has issued it.
    certificate_arn: pulumi.Output[str]

    def __init__(self, name: str, args: EdgeCertificateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:aws:EdgeCertificate", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        certificate = aws.acm.Certificate(
            f"{name}-cert",
            domain_name=args.host,
            validation_method="DNS",
            tags={**args.tags, "Name": args.host},
            opts=child,
        )
        record = certificate.domain_validation_options.apply(lambda options: validation_record(options, args.host))
        validation = aws.route53.Record(
            f"{name}-validation",
            zone_id=args.hosted_zone_id,
            name=record.apply(lambda r: r.name),
            type=record.apply(lambda r: r.type),
            records=[record.apply(lambda r: r.value)],
            ttl=VALIDATION_RECORD_TTL,
            # ACM derives the record from the account and the name: a certificate that replaces this one (or one an
            # earlier stack created for the same name) needs the very same record, which may already exist.
            allow_overwrite=True,
            opts=child,
        )
        validated = aws.acm.CertificateValidation(
            f"{name}-validated",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[validation.fqdn],
            opts=child,
        )
        self.certificate_arn = validated.certificate_arn
        self.register_outputs({"certificateArn": self.certificate_arn})
