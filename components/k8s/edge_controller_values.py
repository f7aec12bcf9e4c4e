"""Helm values of the edge's controllers: the AWS Load Balancer Controller and ExternalDNS.

Pure functions of plain values, using only keys of the pinned charts' values.yaml (the tests check every key
against ../shared/data/helm-values).
"""

from __future__ import annotations

from typing import Any, Literal

from components.k8s.charts import Chart

# upsert-only: ExternalDNS creates and updates records but never deletes one (production); sync also deletes the
# records of Services that went away (what a stack that is torn down and rebuilt wants).
DnsPolicy = Literal["upsert-only", "sync"]

CONTROLLERS_NAMESPACE = "kube-system"
IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"


# The chart is versioned with the controller it runs; components/aws/edge_controller_policies.py holds that
# release's IAM policy (compare it with the new release's iam_policy.json when the chart is bumped).
LOAD_BALANCER_CONTROLLER = Chart("aws-load-balancer-controller", "3.5.0", "https://aws.github.io/eks-charts", CONTROLLERS_NAMESPACE)
LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT = "aws-load-balancer-controller"
EXTERNAL_DNS = Chart("external-dns", "1.21.1", "https://kubernetes-sigs.github.io/external-dns/", CONTROLLERS_NAMESPACE)
EXTERNAL_DNS_SERVICE_ACCOUNT = "external-dns"


def load_balancer_controller_values(
    *,
    cluster_name: str,
    region: str,
    vpc_id: str,
    role_arn: str,
    node_selector: dict[str, str],
    tags: dict[str, str],
) -> dict[str, Any]:
    return {
        # The controller tags what it creates with `elbv2.k8s.aws/cluster: <clusterName>`, the value its IAM
        # policy is pinned to.
        "clusterName": cluster_name,
        # Given, not discovered: pods may not reach the instance metadata service (IMDSv2 hop limit 1).
        "region": region,
        "vpcId": vpc_id,
        "replicaCount": 2,
        # Rendered only with more than one replica: a node drain keeps one controller (and its webhooks) running.
        "podDisruptionBudget": {"maxUnavailable": 1},
        "serviceAccount": {
            "create": True,
            # Fixed: the IRSA role trusts exactly this service account.
            "name": LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT,
            "annotations": {IRSA_ROLE_ANNOTATION: role_arn},
        },
        "nodeSelector": dict(node_selector),
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        # The chart's defaults plus what they leave commented out (no capabilities, the runtime's seccomp profile).
        "securityContext": {
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # Otherwise the controller's webhook claims every new `type: LoadBalancer` Service; the edge's Service asks
        # for it explicitly with `loadBalancerClass: service.k8s.aws/nlb`.
        "enableServiceMutatorWebhook": False,
        # The edge is an NLB for a Service; no ALB Ingress class is offered.
        "createIngressClassResource": False,
        "ingressClassParams": {"create": False},
        # Cost attribution on every load balancer, target group and security group it creates.
        "defaultTags": dict(tags),
    }


def external_dns_values(
    *,
    cluster_name: str,
    region: str,
    role_arn: str,
    zone_id: str,
    zone_name: str,
    policy: DnsPolicy,
    node_selector: dict[str, str],
) -> dict[str, Any]:
    return {
        "provider": {"name": "aws"},
        # Services only: the edge's data-plane Service carries `external-dns.alpha.kubernetes.io/hostname`.
        "sources": ["service"],
        "policy": policy,
        "registry": "txt",
        # The TXT ownership records name this cluster: ExternalDNS never touches records another owner wrote.
        "txtOwnerId": cluster_name,
        "domainFilters": [zone_name],
        # Only this zone, even if another zone (public and private of the same name) matches the domain filter.
        # The map form (flag name -> value, rendered `--zone-id-filter=<id>`): the chart's default shape.
        "extraArgs": {"zone-id-filter": zone_id},
        "env": [{"name": "AWS_DEFAULT_REGION", "value": region}],
        "serviceAccount": {
            "create": True,
            "name": EXTERNAL_DNS_SERVICE_ACCOUNT,
            "annotations": {IRSA_ROLE_ANNOTATION: role_arn},
        },
        "nodeSelector": dict(node_selector),
        "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        # The chart's defaults, stated so that a chart upgrade cannot weaken them unnoticed.
        "podSecurityContext": {"runAsNonRoot": True, "fsGroup": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
        "securityContext": {
            "privileged": False,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "capabilities": {"drop": ["ALL"]},
        },
    }
