"""The `ai-serving` command: `plan` (offline, no cloud, no Pulumi CLI), `diff` (compare two plans), `rollout-status`
and `notify` (the deploy job's verdict and its Discord messages).

Exit codes: 0 ok; 1 `diff --exit-code` found changes; 2 invalid input (config, stack file, plan file, budget),
one line per problem and nothing written; 3 a mandatory policy violation (the plan is written); 4 `diff
--exit-code` found a blocked change; 70 an unexpected internal error (one line; `--debug` shows the traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from infra.config import ConfigError
from infra.plan.across import compare_stacks, render_across_markdown, render_across_text
from infra.plan.diff import diff_plans, render_markdown, render_text
from infra.plan.stackfile import StackFileError, find_project_dir
from infra.rollouts.command import add_subcommands as add_rollout_subcommands

EXIT_INVALID_CONFIG = 2
EXIT_CHANGES = 1
EXIT_POLICY_VIOLATION = 3
EXIT_BLOCKED = 4
EXIT_INTERNAL_ERROR = 70
# `./dev` changes into the project directory; it passes the directory the user ran it from in this variable.
CALLER_CWD_ENV = "AI_SERVING_CALLER_CWD"


class InvalidInputError(Exception):
    """Wrong user input outside the stack config (a plan file given to diff): one line per problem."""


def caller_cwd() -> Path:
    return Path(os.environ.get(CALLER_CWD_ENV) or Path.cwd())


def _plan(args: argparse.Namespace) -> int:
    from infra.plan.cost_report import cost_summary_lines
    from infra.plan.render import write_outputs
    from infra.plan.run import build_plan
    from infra.plan.summary import summary_lines

    try:
        project_dir = find_project_dir(Path.cwd())
        plan = build_plan(project_dir, args.stack)
    except (ConfigError, StackFileError) as err:
        print(f"ai-serving plan: stack {args.stack}: invalid configuration", file=sys.stderr)
        print(str(err), file=sys.stderr)
        return EXIT_INVALID_CONFIG
    out_dir = caller_cwd() / args.out if args.out else project_dir / "build" / "plan" / args.stack
    write_outputs(out_dir, plan.document, plan.objects)
    print("\n".join(summary_lines(args.stack, plan.config, plan.evaluation)))
    print("\n".join(cost_summary_lines(plan.document["cost"], plan.config)))
    for warning in plan.warnings:
        print(f"WARNING {warning}")
    print(f"Wrote {out_dir / 'plan.json'} and {len(plan.objects)} manifests under {out_dir / 'manifests'}")
    # The plan is complete and written (to inspect it), but a mandatory policy violation fails it, as it fails
    # `pulumi preview --policy-pack policy/`.
    for violation in plan.violations:
        print(f"POLICY VIOLATION {violation}", file=sys.stderr)
    if plan.violations:
        print(f"ai-serving plan: stack {args.stack}: {len(plan.violations)} mandatory policy violation(s)", file=sys.stderr)
        return EXIT_POLICY_VIOLATION
    return 0


def _load_plan(name: str) -> dict[str, Any]:
    """A plan.json written by `ai-serving plan`, or InvalidInputError naming the file and what is wrong with it."""
    path = caller_cwd() / name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InvalidInputError(f"{name}: is a directory; give the plan.json inside it") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInputError(f"{name}: cannot be read ({getattr(err, 'strerror', None) or err})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidInputError(
            f"{name}:{err.lineno}:{err.colno}: not JSON ({err.msg}); expected a plan.json from `ai-serving plan`"
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("resources"), list) or "stack" not in document:
        raise InvalidInputError(f"{name}: not a plan (no `stack` and `resources` list); expected a plan.json from `ai-serving plan`")
    return document


def _diff(args: argparse.Namespace) -> int:
    problems, plans = [], []
    for name in (args.base, args.head):
        try:
            plans.append(_load_plan(name))
        except InvalidInputError as err:
            problems.append(str(err))
    if problems:
        print("ai-serving diff: invalid input", file=sys.stderr)
        print("\n".join(problems), file=sys.stderr)
        return EXIT_INVALID_CONFIG
    old, new = plans
    if args.across_stacks:
        across = compare_stacks(old, new)
        print(render_across_markdown(across) if args.format == "markdown" else render_across_text(across))
        return EXIT_CHANGES if (args.exit_code and across.differing) else 0
    result = diff_plans(old, new)
    title = f"Offline plan diff: stack {new.get('stack')}"
    print(render_markdown(result, title, args.max_chars) if args.format == "markdown" else render_text(result))
    if not args.exit_code or result.empty:
        return 0
    return EXIT_BLOCKED if result.blocked else EXIT_CHANGES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ai-serving", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="on an internal error, print the traceback")
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="evaluate a stack offline; write plan.json and manifests")
    plan.add_argument("--stack", required=True, help="stack name (reads Pulumi.<stack>.yaml)")
    plan.add_argument("--out", help="output directory, relative to where you run the command (default: build/plan/<stack>)")
    plan.set_defaults(run=_plan)
    diff = commands.add_parser("diff", help="compare two plan.json files (base, then head)")
    diff.add_argument("base")
    diff.add_argument("head")
    diff.add_argument("--format", choices=["text", "markdown"], default="text")
    diff.add_argument("--exit-code", action="store_true", help="exit 1 when the plans differ, 4 when a change is blocked")
    diff.add_argument("--across-stacks", action="store_true", help="compare two stacks' plans: genuine differences only")
    diff.add_argument(
        "--max-chars",
        type=int,
        help="markdown: cut the details (never the summary or the blocked/replace/delete sections) toward this size",
    )
    diff.set_defaults(run=_diff)
    add_rollout_subcommands(commands)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    # The one place every unexpected error becomes exit 70.
    except Exception as err:
        if args.debug:
            traceback.print_exc()
        else:
            print(
                f"ai-serving {args.command}: internal error ({type(err).__name__}: {err}); rerun with --debug for the traceback",
                file=sys.stderr,
            )
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
