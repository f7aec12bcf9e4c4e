"""The state backend bootstrap: a separate Pulumi program (its own `Pulumi.yaml` here) with local state that creates
the S3 bucket and KMS keys the main stacks' self-managed backend uses (docs/bootstrap.md)."""
