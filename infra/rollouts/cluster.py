"""The Kubernetes API as `rollout-status` uses it: a small protocol, and its implementation on the official client.

Every failure of the real client (HTTP errors, an unreachable endpoint, no kubeconfig) becomes one
`ClusterApiError` whose message says what was asked and what the API answered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

ROLLOUTS_GROUP = "argoproj.io"
ROLLOUTS_VERSION = "v1alpha1"
T = TypeVar("T")


class ClusterApiError(Exception):
    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        # Worth asking again (a server error, throttling, a dropped connection); a 403 or 404 is not.
        self.transient = transient


class ClusterApi(Protocol):
    def get_rollout(self, namespace: str, name: str) -> dict[str, Any]: ...
    def list_analysis_runs(self, namespace: str) -> list[dict[str, Any]]: ...
    def list_analysis_templates(self, namespace: str) -> list[dict[str, Any]]: ...
    def create_job(self, namespace: str, job: dict[str, Any]) -> None: ...
    def get_job(self, namespace: str, name: str) -> dict[str, Any]: ...
    def job_logs(self, namespace: str, job_name: str) -> str: ...
    def delete_job(self, namespace: str, name: str) -> None: ...


def _api_message(body: Any) -> str:
    try:
        text = str(json.loads(body).get("message", body))
    except (TypeError, ValueError, AttributeError):
        text = str(body or "")
    return " ".join(text.split())[:300]


class KubernetesApi:
    """The cluster of a kubeconfig context (default: the current one), optionally as an impersonated user."""

    def __init__(self, context: str | None = None, impersonate: str | None = None, kubeconfig: str | None = None) -> None:
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        configuration = client.Configuration()
        # The client's annotations are partial (dicts are accepted where it declares model classes): use it untyped.
        load: Any = config.load_kube_config
        try:
            load(config_file=kubeconfig, context=context, client_configuration=configuration)
        except (ConfigException, OSError) as err:
            raise ClusterApiError(f"no usable kubeconfig (run `aws eks update-kubeconfig --name <cluster>` first): {err}") from err
        # One attempt per call: the wait loop retries, and an unreachable endpoint should fail fast and clearly.
        configuration.retries = 0
        api_client: Any = client.ApiClient(configuration)
        if impersonate:
            api_client.set_default_header("Impersonate-User", impersonate)
        self._host = configuration.host
        self._client = api_client
        self._custom: Any = client.CustomObjectsApi(api_client)
        self._batch: Any = client.BatchV1Api(api_client)
        self._core: Any = client.CoreV1Api(api_client)

    def _call(self, what: str, call: Callable[[], T]) -> T:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return call()
        except ApiException as err:
            transient = err.status is not None and (err.status >= 500 or err.status == 429)
            raise ClusterApiError(f"{what}: HTTP {err.status} {err.reason}: {_api_message(err.body)}", transient) from err
        except HTTPError as err:
            raise ClusterApiError(f"{what}: cannot reach the Kubernetes API at {self._host}: {type(err).__name__}", True) from err

    def get_rollout(self, namespace: str, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            f"read Rollout {namespace}/{name}",
            lambda: self._custom.get_namespaced_custom_object(ROLLOUTS_GROUP, ROLLOUTS_VERSION, namespace, "rollouts", name),
        )
        return result

    def _list(self, namespace: str, plural: str, kind: str) -> list[dict[str, Any]]:
        result = self._call(
            f"list {kind}s in {namespace}",
            lambda: self._custom.list_namespaced_custom_object(ROLLOUTS_GROUP, ROLLOUTS_VERSION, namespace, plural),
        )
        items: list[dict[str, Any]] = result.get("items", [])
        return items

    def list_analysis_runs(self, namespace: str) -> list[dict[str, Any]]:
        return self._list(namespace, "analysisruns", "AnalysisRun")

    def list_analysis_templates(self, namespace: str) -> list[dict[str, Any]]:
        return self._list(namespace, "analysistemplates", "AnalysisTemplate")

    def create_job(self, namespace: str, job: dict[str, Any]) -> None:
        self._call(f"create Job {namespace}/{job['metadata']['name']}", lambda: self._batch.create_namespaced_job(namespace, job))

    def get_job(self, namespace: str, name: str) -> dict[str, Any]:
        job = self._call(f"read Job {namespace}/{name}", lambda: self._batch.read_namespaced_job(name, namespace))
        result: dict[str, Any] = self._client.sanitize_for_serialization(job)
        return result

    def job_logs(self, namespace: str, job_name: str) -> str:
        pods = self._call(
            f"list the pods of Job {namespace}/{job_name}",
            lambda: self._core.list_namespaced_pod(namespace, label_selector=f"job-name={job_name}"),
        )
        if not pods.items:
            return ""
        pod = pods.items[0].metadata.name
        logs: str = self._call(f"read the log of pod {namespace}/{pod}", lambda: self._core.read_namespaced_pod_log(pod, namespace))
        return logs

    def delete_job(self, namespace: str, name: str) -> None:
        self._call(
            f"delete Job {namespace}/{name}",
            lambda: self._batch.delete_namespaced_job(name, namespace, propagation_policy="Background"),
        )
