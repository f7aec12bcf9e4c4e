"""Argo CD from the pinned argo-cd chart, one AppProject, and the Applications application teams deliver with.

CRD ordering on the first `pulumi up`: the chart does not install the CRDs (`crds.install: false`). They are
declared first, from the upstream manifests of the same Argo CD release, through `kubernetes.yaml.v2.ConfigGroup`,
which registers every CRD as a Pulumi resource and waits until the API server serves it. The AppProject and the
Applications depend on that group (and on the chart), so Pulumi creates them only once their kinds exist; a
`helm.v3.Release` would hide the CRDs from Pulumi and break the first preview of those objects. Upgrading Argo CD
means bumping ARGOCD_VERSION and CHART_VERSION together (the chart's appVersion); the CRDs then update in the
same `pulumi up`, before the chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.k8s.objects import custom_resource

# renovate: datasource=github-releases depName=argoproj/argo-cd
ARGOCD_VERSION = "v3.4.3"
# The argo-cd chart whose appVersion is ARGOCD_VERSION (one Renovate pull request bumps both).
# renovate: datasource=helm depName=argo-cd registryUrl=https://argoproj.github.io/argo-helm
CHART_VERSION = "9.5.16"
CHART_REPO = "https://argoproj.github.io/argo-helm"
RELEASE_NAME = "argocd"
CRD_URLS = tuple(
    f"https://raw.githubusercontent.com/argoproj/argo-cd/{ARGOCD_VERSION}/manifests/crds/{kind}-crd.yaml"
    for kind in ("application", "applicationset", "appproject")
)
API_VERSION = "argoproj.io/v1alpha1"
IN_CLUSTER = "https://kubernetes.default.svc"
# Deleting an Application also deletes what it deployed (otherwise a removed app keeps its GPUs running).
CASCADE_FINALIZER = "resources-finalizer.argocd.argoproj.io"


@dataclass(frozen=True)
class ApplicationSpec:
    name: str
    repo_url: str
    path: str
    target_revision: str
    namespace: str


@dataclass(frozen=True)
class ArgoCdArgs:
    namespace: str
    high_availability: bool
    project_name: str
    project_description: str
    applications: tuple[ApplicationSpec, ...]
    # The platform's own namespaces (add-ons, serving, gateways, kube-system): the AppProject denies them even if
    # an allowed destination is later widened. Argo CD's own namespace is always denied.
    platform_namespaces: tuple[str, ...] = ()
    # What the chart's pods need before they can schedule (the node groups).
    depends_on: Sequence[pulumi.Resource] = ()


def chart_values(high_availability: bool) -> dict[str, Any]:
    """Values for the argo-cd chart. The server stays a ClusterIP Service without ingress: reach it with
    `kubectl port-forward svc/argocd-server -n argocd 8080:443`."""
    values: dict[str, Any] = {
        "crds": {"install": False},
        "global": {"networkPolicy": {"create": True}},
        # No SSO is configured; Dex would only add an unused, exposed component.
        "dex": {"enabled": False},
        "server": {"service": {"type": "ClusterIP"}, "ingress": {"enabled": False}},
        "configs": {"cm": {"exec.enabled": False, "admin.enabled": True}},
    }
    if high_availability:
        # The chart's documented HA layout (redis-ha needs 3 nodes: its anti-affinity is hard).
        pdb = {"pdb": {"enabled": True, "maxUnavailable": 1}}
        values["global"]["affinity"] = {"podAntiAffinity": "hard"}
        values["redis-ha"] = {"enabled": True}
        values["controller"] = {"replicas": 1, **pdb}
        values["server"] |= {"replicas": 2, **pdb}
        values["repoServer"] = {"replicas": 2, **pdb}
        values["applicationSet"] = {"replicas": 2, **pdb}
    return values


def namespace_object(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": namespace,
            "labels": {
                "app.kubernetes.io/part-of": "argocd",
                # Nothing in the chart needs more than baseline; "restricted" gaps show as warnings, not failed pods.
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
            },
        },
    }


def project_destinations(applications: tuple[ApplicationSpec, ...], denied_namespaces: set[str]) -> list[dict[str, str]]:
    """Allow exactly the applications' namespaces; deny the platform's with Argo CD's `!` prefix (Argo CD >= 2.5).

    A destination is permitted when it matches an allow entry and no deny entry, and Argo CD checks every
    resource of an Application (including one with its own `metadata.namespace`) against them. The allow list
    alone already keeps teams out; the deny entries keep the platform's namespaces out if someone widens an
    allow entry to a pattern (`team-*`, `*`), and make the intent visible in the project itself.
    """
    allowed = sorted({a.namespace for a in applications})
    clash = sorted(denied_namespaces.intersection(allowed))
    if clash:
        raise ValueError(f"applications target the platform's own namespaces {clash}")
    return [
        *({"server": IN_CLUSTER, "namespace": ns} for ns in allowed),
        *({"server": IN_CLUSTER, "namespace": f"!{ns}"} for ns in sorted(denied_namespaces)),
    ]


def app_project(
    name: str, description: str, namespace: str, applications: tuple[ApplicationSpec, ...], platform_namespaces: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The project every Application belongs to: exactly the configured repositories and target namespaces of this
    cluster (never Argo CD's own or the platform's), and no cluster-scoped kinds except the Namespaces that
    CreateNamespace=true makes."""
    return {
        "apiVersion": API_VERSION,
        "kind": "AppProject",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "description": description,
            "sourceRepos": sorted({a.repo_url for a in applications}),
            "destinations": project_destinations(applications, {namespace, *platform_namespaces}),
            "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"}],
        },
    }


def application(app: ApplicationSpec, project: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": {"name": app.name, "namespace": namespace, "finalizers": [CASCADE_FINALIZER]},
        "spec": {
            "project": project,
            "source": {"repoURL": app.repo_url, "path": app.path, "targetRevision": app.target_revision},
            "destination": {"server": IN_CLUSTER, "namespace": app.namespace},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "syncOptions": ["CreateNamespace=true"],
                # 5 attempts, waiting 5 s, 10 s, 20 s, 40 s, 80 s (each capped at 3 min).
                "retry": {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}},
            },
        },
    }


class ArgoCd(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    server_service: str
    project_name: str
    application_names: list[str]

    def __init__(self, name: str, args: ArgoCdArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:k8s:ArgoCd", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns_obj = namespace_object(args.namespace)
        namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata=ns_obj["metadata"], opts=child)
        crds = k8s.yaml.v2.ConfigGroup(f"{name}-crds", files=list(CRD_URLS), opts=child)
        release = k8s.helm.v3.Release(
            name,
            name=RELEASE_NAME,
            chart="argo-cd",
            version=CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPO),
            namespace=args.namespace,
            create_namespace=False,
            skip_crds=True,
            values=chart_values(args.high_availability),
            # Roll a failed upgrade back instead of leaving Argo CD half-upgraded.
            atomic=True,
            timeout=900,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, crds, *args.depends_on]),
        )
        # After the CRDs (their kinds must exist) and the chart (so the controller outlives the Applications on
        # delete and can run their cascade finalizers).
        after_install = pulumi.ResourceOptions(parent=self, depends_on=[namespace, crds, release])
        custom_resource(
            f"{name}-project",
            app_project(args.project_name, args.project_description, args.namespace, args.applications, args.platform_namespaces),
            after_install,
        )
        for app in args.applications:
            custom_resource(f"{name}-app-{app.name}", application(app, args.project_name, args.namespace), after_install)

        self.namespace = namespace.metadata.name
        self.server_service = f"{RELEASE_NAME}-server"
        self.project_name = args.project_name
        self.application_names = [a.name for a in args.applications]
        self.register_outputs(
            {
                "namespace": self.namespace,
                "serverService": self.server_service,
                "projectName": self.project_name,
                "applicationNames": self.application_names,
            }
        )
