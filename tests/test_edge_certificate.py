"""The edge's ACM certificate: DNS-validated in the configured hosted zone, its ARN usable only once validated."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pytest

from components.aws.edge_certificate import VALIDATION_RECORD_TTL, EdgeCertificate, EdgeCertificateArgs, validation_record
from infra.plan.engine import ProgramEvaluation
from tests.harness import inputs, one, run

HOST = "api.staging.example.com"
ZONE_ID = "Z0123456789ABCDEFGHIJ"


def _certificate() -> ProgramEvaluation:
    def program() -> None:
        cert = EdgeCertificate("edge", EdgeCertificateArgs(host=HOST, hosted_zone_id=ZONE_ID, tags={"ai-serving/tier": "staging"}))
        pulumi.export("certificateArn", cert.certificate_arn)

    return run(program)


def test_certificate_is_for_the_host_and_validated_by_dns() -> None:
    cert = inputs(one(_certificate(), "aws:acm/certificate:Certificate"))
    assert cert["domainName"] == HOST
    assert cert["validationMethod"] == "DNS"
    assert "subjectAlternativeNames" not in cert


def test_validation_record_is_in_the_configured_zone_with_the_name_acm_asks_for() -> None:
    ev = _certificate()
    record = inputs(one(ev, "aws:route53/record:Record"))
    assert record["zoneId"] == ZONE_ID
    # The stand-in answers like ACM: a CNAME `_<hex>.<host>.` pointing into acm-validations.aws.
    assert record["name"].startswith("_") and record["name"].endswith(f".{HOST}.")
    assert record["type"] == "CNAME"
    (value,) = record["records"]
    assert value.endswith(".acm-validations.aws.")
    assert record["ttl"] == VALIDATION_RECORD_TTL == 60
    assert record["allowOverwrite"] is True


def test_validation_waits_for_the_record_and_names_the_certificate() -> None:
    ev = _certificate()
    cert = one(ev, "aws:acm/certificate:Certificate")
    record = one(ev, "aws:route53/record:Record")
    validation = one(ev, "aws:acm/certificateValidation:CertificateValidation")
    assert {cert.urn, record.urn} <= set(validation.dependencies)
    validated = inputs(validation)
    assert validated["certificateArn"].startswith("arn:aws:acm:us-west-2:123456789012:certificate/")
    assert validated["validationRecordFqdns"] == [inputs(record)["name"].rstrip(".")]


def test_the_component_hands_out_the_validated_arn() -> None:
    ev = _certificate()
    assert ev.outputs["certificateArn"] == inputs(one(ev, "aws:acm/certificateValidation:CertificateValidation"))["certificateArn"]


def test_replacing_the_certificate_creates_the_new_one_first() -> None:
    # An NLB listener still uses the old certificate until the controller moves it: Pulumi's default,
    # create the replacement before deleting the original, must stay in force for every child.
    delete_first: dict[str, bool | None] = {}

    def record(args: pulumi.ResourceTransformationArgs) -> None:
        delete_first[args.type_] = args.opts.delete_before_replace

    def program() -> None:
        EdgeCertificate("edge", EdgeCertificateArgs(host=HOST, hosted_zone_id=ZONE_ID), pulumi.ResourceOptions(transformations=[record]))

    run(program)
    assert set(delete_first) == {
        "ai-serving:aws:EdgeCertificate",
        "aws:acm/certificate:Certificate",
        "aws:route53/record:Record",
        "aws:acm/certificateValidation:CertificateValidation",
    }
    assert not any(delete_first.values())


def _option(domain: str, name: str) -> aws.acm.outputs.CertificateDomainValidationOption:
    return aws.acm.outputs.CertificateDomainValidationOption(
        domain_name=domain, resource_record_name=name, resource_record_type="CNAME", resource_record_value=f"{name}acm-validations.aws."
    )


def test_validation_record_is_the_one_acm_lists_for_the_host() -> None:
    options = [_option("other.example.com", "_a.other.example.com."), _option(HOST, f"_b.{HOST}.")]
    record = validation_record(options, HOST)
    assert (record.name, record.type) == (f"_b.{HOST}.", "CNAME")


def test_no_validation_record_for_the_host_is_an_error() -> None:
    with pytest.raises(ValueError, match="no DNS validation record"):
        validation_record([_option("other.example.com", "_a.other.example.com.")], HOST)
