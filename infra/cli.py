"""The `ai-serving` command: `plan` (offline, no cloud, no Pulumi CLI) and `diff` (compare two plans)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from infra.config import ConfigError
from infra.plan.diff import diff_plans, render_markdown, render_text
from infra.plan.stackfile import StackFileError, find_project_dir

EXIT_INVALID_CONFIG = 2
EXIT_POLICY_VIOLATION = 3


def _plan(args: argparse.Namespace) -> int:
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
    out_dir = Path(args.out) if args.out else project_dir / "build" / "plan" / args.stack
    write_outputs(out_dir, plan.document, plan.objects)
    print("\n".join(summary_lines(args.stack, plan.config, plan.evaluation)))
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


def _diff(args: argparse.Namespace) -> int:
    old = json.loads(Path(args.base).read_text())
    new = json.loads(Path(args.head).read_text())
    result = diff_plans(old, new)
    title = f"Offline plan diff: stack {new.get('stack')}"
    print(render_markdown(result, title) if args.format == "markdown" else render_text(result))
    return 1 if (args.exit_code and not result.empty) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ai-serving", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="evaluate a stack offline; write plan.json and manifests")
    plan.add_argument("--stack", required=True, help="stack name (reads Pulumi.<stack>.yaml)")
    plan.add_argument("--out", help="output directory (default: build/plan/<stack>)")
    plan.set_defaults(run=_plan)
    diff = commands.add_parser("diff", help="compare two plan.json files (base, then head)")
    diff.add_argument("base")
    diff.add_argument("head")
    diff.add_argument("--format", choices=["text", "markdown"], default="text")
    diff.add_argument("--exit-code", action="store_true", help="exit 1 when the plans differ")
    diff.set_defaults(run=_diff)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
