"""Annotations by which a workload waives one mandatory policy (policy/rules_k8s.py), with its reason as the value.

Shared by the policy pack, which honours them, and the components that need them; a waiver is reviewed in the diff
like any other change, and nothing else of the policy is waived with it.
"""

from __future__ import annotations

# A container that must run as root (a node agent that owns root-only host paths) says why here.
RUN_AS_ROOT_WAIVER = "policy.ai-serving.dev/run-as-root"
