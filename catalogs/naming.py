"""The one naming rule for names the user chooses that become Kubernetes or cloud resource names."""

from __future__ import annotations

# Kubernetes limits a label-style name (namespace, Service, most object names) to 63 characters.
DNS_LABEL_MAX_LENGTH = 63


def dns_label_pattern(max_length: int = DNS_LABEL_MAX_LENGTH) -> str:
    """An RFC 1035 label: lowercase letters, digits and '-', starting with a letter and ending with a letter or
    digit. It is the strictest form among the places these names land (a Kubernetes Service name must start with a
    letter; namespaces, Argo CD objects, EKS and GCP names accept it too), so one rule serves them all. A caller
    lowers `max_length` when it derives longer names from the label (suffixes, IAM role names)."""
    if not 1 <= max_length <= DNS_LABEL_MAX_LENGTH:
        raise ValueError(f"a DNS label has 1 to {DNS_LABEL_MAX_LENGTH} characters, not {max_length}")
    if max_length == 1:
        return r"^[a-z]$"
    return rf"^[a-z]([-a-z0-9]{{0,{max_length - 2}}}[a-z0-9])?$"
