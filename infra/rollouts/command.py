"""The `rollout-status` and `notify` subcommands: stack config in, verdict and notifications out.

Exit status of rollout-status: 0 every Rollout Healthy and every smoke test passed; 1 a canary aborted, a Rollout
degraded or missed its deadline, a smoke test failed, or the cluster API failed; 2 invalid stack or arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from components.k8s.rollout_verdict_access import VERDICT_USER
from infra.config import ConfigError, StackConfig, load_stack_config
from infra.plan.stackfile import StackFileError, find_project_dir, read_stack_file

from .cluster import ClusterApi, ClusterApiError, KubernetesApi
from .notify import EVENTS, message, send
from .status import RolloutReport, run_smoke_test, smoke_image, smoke_job_name, smoke_spec, targets, wait_for_rollouts
from .summary import summary_markdown

EXIT_NOT_SUCCEEDED = 1
EXIT_INVALID_INPUT = 2
ApiFactory = Callable[[argparse.Namespace], ClusterApi]


def load_config(project_dir: Path, stack: str) -> StackConfig:
    stack_file = read_stack_file(project_dir, stack)
    prefix = f"{stack_file.project}:"
    raw = {k.removeprefix(prefix): v for k, v in stack_file.config.items() if k.startswith(prefix)}
    encrypted = frozenset(k.removeprefix(prefix) for k in stack_file.secret_keys if k.startswith(prefix))
    return load_stack_config(raw, stack_file.config.get("aws:region"), encrypted, stack)


def _stack_config(command: str, stack: str) -> StackConfig | None:
    try:
        return load_config(find_project_dir(Path.cwd()), stack)
    except (ConfigError, StackFileError) as err:
        print(f"ai-serving {command}: stack {stack}: invalid configuration", file=sys.stderr)
        print(str(err), file=sys.stderr)
        return None


def kubernetes_api(args: argparse.Namespace) -> ClusterApi:
    return KubernetesApi(context=args.context, impersonate=None if args.no_impersonate else VERDICT_USER)


def overall(reports: list[RolloutReport]) -> str:
    verdicts = {r.verdict for r in reports}
    if "failed" in verdicts:
        return "failed"
    return "canary-aborted" if "aborted" in verdicts else "succeeded"


def _append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)


def rollout_status(
    args: argparse.Namespace,
    api_factory: ApiFactory = kubernetes_api,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    env: Mapping[str, str] = os.environ,
) -> int:
    cfg = _stack_config("rollout-status", args.stack)
    if cfg is None:
        return EXIT_INVALID_INPUT
    wanted = targets(cfg)
    reports: list[RolloutReport] = []
    try:
        if wanted:
            api = api_factory(args)
            reports = wait_for_rollouts(api, wanted, clock, sleep, print, poll_seconds=args.poll_seconds)
            for report in reports:
                if report.verdict == "succeeded" and not args.skip_smoke_test:
                    run = env.get("GITHUB_RUN_ID", str(int(time.time())))
                    attempt = env.get("GITHUB_RUN_ATTEMPT")
                    name = smoke_job_name(report.target.model, f"{run}-{attempt}" if attempt else run)
                    spec = smoke_spec(report.target, args.smoke_max_seconds, smoke_image(cfg, args.image_registry))
                    report.smoke = run_smoke_test(api, spec, name, clock, sleep, print)
                    print(f"{report.target.namespace}/{report.target.rollout}: {report.smoke.line()}")
    except (ClusterApiError, ValueError) as err:
        # ValueError: a Rollout the tool cannot read a deadline from (an unknown duration, a missing AnalysisTemplate).
        print(f"ai-serving rollout-status: stack {args.stack}: {err}", file=sys.stderr)
        _append(env.get("GITHUB_OUTPUT"), f"verdict=failed\ndecision={' '.join(str(err).split())}\n")
        return EXIT_NOT_SUCCEEDED
    _append(env.get("GITHUB_STEP_SUMMARY"), summary_markdown(args.stack, reports))
    verdict = overall(reports)
    decisions = " · ".join(r.decision() if r.smoke is None else f"{r.decision()}; {r.smoke.line()}" for r in reports)
    _append(env.get("GITHUB_OUTPUT"), f"verdict={verdict}\ndecision={decisions.replace(chr(10), ' ')}\n")
    print(f"verdict: {verdict}" if reports else f"stack {args.stack} serves no models: nothing to wait for")
    return 0 if verdict == "succeeded" else EXIT_NOT_SUCCEEDED


def notify(args: argparse.Namespace, env: Mapping[str, str] = os.environ, post: Callable[[str, bytes], int] | None = None) -> int:
    """Never fails a deploy: a missing webhook or an unreachable Discord is a warning."""
    cfg = _stack_config("notify", args.stack)
    if cfg is None:
        return EXIT_INVALID_INPUT
    webhook = env.get("DISCORD_WEBHOOK_URL", "")
    if not webhook:
        print("::warning::DISCORD_WEBHOOK_URL is empty (repository secret DISCORD_DEPLOY_WEBHOOK): no notification sent")
        return 0
    text = message(args.event, args.stack, targets(cfg), args.run_url or None, args.detail or "")
    problem = send(webhook, text) if post is None else send(webhook, text, post)
    if problem:
        print(f"::warning::deploy notification not sent: {problem}")
    else:
        print(f"notified Discord: {args.event} (stack {args.stack})")
    return 0


def add_subcommands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = commands.add_parser("rollout-status", help="wait for the stack's Rollouts, smoke-test them, report the verdict")
    status.add_argument("--stack", required=True, help="stack name (reads Pulumi.<stack>.yaml)")
    status.add_argument("--context", help="kubeconfig context (default: the current one)")
    status.add_argument("--poll-seconds", type=float, default=15.0, help="seconds between reads of each Rollout")
    status.add_argument("--smoke-max-seconds", type=float, default=30.0, help="latency budget of the smoke-test completion")
    status.add_argument("--skip-smoke-test", action="store_true", help="judge the Rollouts only")
    status.add_argument(
        "--image-registry",
        help="the stack's ECR registry (<account>.dkr.ecr.<region>.amazonaws.com): the smoke test's image is pulled "
        "through its pull-through cache when the stack caches Docker Hub",
    )
    status.add_argument(
        "--no-impersonate", action="store_true", help=f"use the kubeconfig's identity as is instead of impersonating {VERDICT_USER}"
    )
    status.set_defaults(run=rollout_status)
    note = commands.add_parser("notify", help="post a deploy event to Discord (webhook from $DISCORD_WEBHOOK_URL)")
    note.add_argument("--stack", required=True, help="stack name (reads Pulumi.<stack>.yaml)")
    note.add_argument("--event", required=True, choices=EVENTS)
    note.add_argument("--run-url", help="link to the workflow run")
    note.add_argument("--detail", help="one more line (the verdict's decision)")
    note.set_defaults(run=notify)
