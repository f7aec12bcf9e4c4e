"""Registering the plain-dict Kubernetes objects the pure builders return."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s


def custom_resource(logical_name: str, obj: dict[str, Any], opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    """A custom resource (Rollout, AnalysisTemplate, PodMonitor, Application...) exactly as its builder returned it."""
    return k8s.apiextensions.CustomResource(
        logical_name, api_version=obj["apiVersion"], kind=obj["kind"], metadata=obj["metadata"], spec=obj["spec"], opts=opts
    )
