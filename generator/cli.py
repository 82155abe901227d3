"""The `bluegreen` command line."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import EXIT_FAILED, BluegreenError
from .explain import explain
from .schema import schema_text
from .validate import validate_file

# Copier (and what it pulls in) takes most of a second to import: only the commands
# that render load it, so `validate`, `explain` and `schema` answer at once.

EXIT_OK = 0
EXIT_TEMPLATE_OUTDATED = 3  # `check`: nothing drifted, but a newer template version exists


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand. A BluegreenError prints its lines and exits with its code; anything
    else is a bug and keeps its traceback."""
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except BluegreenError as error:
        print(error, file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130


def _validate(args: argparse.Namespace) -> int:
    model = validate_file(args.file)
    names = ", ".join(env.name for env in model.environments)
    print(f"{args.file}: OK: service {model.name}, environments {names}")
    return EXIT_OK


def _new(args: argparse.Namespace) -> int:
    from .render import render_new

    dest = render_new(args.file, args.dest, template=args.template, vcs_ref=args.vcs_ref)
    print(f"{args.file}: rendered into {dest}")
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    dest = Path(args.workdir) / validate_file(args.file).name
    if dest.exists():
        shutil.rmtree(dest)
    return run_demo(args.file, dest)


def _explain(args: argparse.Namespace) -> int:
    sys.stdout.write(explain(validate_file(args.file), args.env, source=args.file))
    return EXIT_OK


def _sync(args: argparse.Namespace) -> int:
    from .lifecycle import sync

    result = sync(args.repo)
    for path in result.changed:
        print(f"{'conflict' if path in result.conflicts else 'changed'}: {path}")
    if result.conflicts:
        print(
            f"bluegreen: {len(result.conflicts)} file(s) in conflict: resolve the <<<<<<< markers"
            " (README.md, section Conflicts), git add, commit",
            file=sys.stderr,
        )
        return EXIT_FAILED
    unchanged = "" if result.changed else " (nothing to change)"
    print(f"{result.repo}: synced with service.yaml at template {result.version}{unchanged}")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from .lifecycle import check

    result = check(args.repo, strict=args.strict)
    print("\n".join(result.lines()))
    if result.drift:
        return EXIT_FAILED
    return EXIT_TEMPLATE_OUTDATED if result.update_available else EXIT_OK


def _policy(args: argparse.Namespace) -> int:
    from .errors import UsageError
    from .iam import deployer_policies

    model = validate_file(args.file)
    names = [env.name for env in model.environments]
    if args.env is None and len(names) > 1:
        raise UsageError(f"{args.file}: which environment? --env one of: {', '.join(names)}")
    wanted = args.env or names[0]
    env = next((env for env in model.environments if env.name == wanted), None)
    if env is None:
        raise UsageError(f"{args.file}: --env: expected one of {', '.join(names)}, found {wanted!r}")
    sys.stdout.write(json.dumps(deployer_policies(model.name, env), indent=2) + "\n")
    return EXIT_OK


def _schema(_: argparse.Namespace) -> int:
    sys.stdout.write(schema_text())
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bluegreen", description=__doc__)
    parser.add_argument("--version", action="version", version=f"bluegreen {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check a service.yaml")
    validate.add_argument("file", metavar="FILE")
    validate.set_defaults(run=_validate)

    new = commands.add_parser("new", help="render a service.yaml into a new repository")
    new.add_argument("file", metavar="FILE")
    new.add_argument("dest", metavar="DEST")
    new.add_argument(
        "--template", help="Copier template source (default: $BLUEGREEN_TEMPLATE or this checkout)"
    )
    new.add_argument("--vcs-ref", help="template git ref to render (default: latest tag, or HEAD)")
    new.set_defaults(run=_new)

    demo = commands.add_parser(
        "demo", help="render a spec into a scratch directory and plan it against a local AWS emulator"
    )
    demo.add_argument("file", metavar="FILE")
    demo.add_argument("--workdir", default=".demo", help="scratch directory (default: .demo)")
    demo.set_defaults(run=_demo)

    explain_parser = commands.add_parser(
        "explain", help="what a spec creates, a deployment timeline and a monthly cost estimate"
    )
    explain_parser.add_argument("file", metavar="FILE")
    explain_parser.add_argument("--env", metavar="ENV", help="only this environment (default: all)")
    explain_parser.set_defaults(run=_explain)

    sync_parser = commands.add_parser(
        "sync", help="re-render a generated repo from its service.yaml (same template version)"
    )
    sync_parser.add_argument(
        "repo", nargs="?", default=".", metavar="REPO", help="the generated repo (default: .)"
    )
    sync_parser.set_defaults(run=_sync)

    check_parser = commands.add_parser(
        "check",
        help="exit 1 when a generated repo differs from its service.yaml, 3 when a newer template exists",
    )
    check_parser.add_argument(
        "repo", nargs="?", default=".", metavar="REPO", help="the generated repo (default: .)"
    )
    check_parser.add_argument(
        "--strict",
        action="store_true",
        help="compare with a plain render: edits to generated files and your own files count as drift",
    )
    check_parser.set_defaults(run=_check)

    policy = commands.add_parser(
        "policy", help="the deploy role's managed policy documents of an environment, as a JSON list"
    )
    policy.add_argument("file", metavar="FILE")
    policy.add_argument("--env", metavar="ENV", help="the environment (needed when there are several)")
    policy.set_defaults(run=_policy)

    schema = commands.add_parser("schema", help="print the JSON Schema of service.yaml")
    schema.set_defaults(run=_schema)
    return parser


if __name__ == "__main__":
    sys.exit(main())
