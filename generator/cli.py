"""The `bluegreen` command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import __version__
from .errors import EXIT_FAILED, BluegreenError, UsageError
from .explain import explain
from .schema import schema_text
from .validate import validate_file

# Copier (and what it pulls in) takes most of a second to import: only the commands
# that render load it, so `validate`, `explain` and `schema` answer at once.

EXIT_OK = 0
EXIT_TEMPLATE_OUTDATED = 3  # `check`: nothing drifted, but a newer template version exists


# Signals that stop a command the way Ctrl-C does: what it started is undone (the staging
# directory and Copier's clones removed, a sync's half-applied changes reverted), one
# line says so, and the exit status is 128 + the signal number (130, 143, 129).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(BaseException):
    """A stop signal, raised where the program was so that every `finally` and cleanup runs.

    A BaseException, like KeyboardInterrupt: code that catches Exception (Copier's own
    cleanup does) lets it through.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand. A BluegreenError prints its lines and exits with its code; anything
    else is a bug and keeps its traceback."""
    args = _parser().parse_args(argv)
    try:
        with _stop_signals():
            return args.run(args)
    except BluegreenError as error:
        print(error, file=sys.stderr)
        return error.exit_code
    except Interrupted as stop:
        name = signal.Signals(stop.signum).name
        print(f"bluegreen: stopped by {name}; what it had started is undone", file=sys.stderr)
        return 128 + stop.signum


@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """Turn the first stop signal into Interrupted; later ones (while cleaning up) are ignored,
    so that a second Ctrl-C or a repeated SIGTERM cannot cut the cleanup short."""
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        _stop_children()
        raise Interrupted(signum)

    previous = {}
    for number in STOP_SIGNALS:
        with contextlib.suppress(ValueError, OSError):  # not the main thread, or unsupported
            previous[number] = signal.signal(number, stop)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _stop_children() -> None:
    """Stop the programs this process started, and theirs (git under Copier, and the git
    commands `git worktree add` runs; `copier check-update`; the template's migration),
    and wait for them, so that none writes into a directory after it is removed. Copier
    gets SIGINT whatever the signal, as from Ctrl-C: it then cleans up its own clones,
    where SIGTERM would end it on the spot and leave them in the temp folder. The others
    get SIGTERM: git cleans up on either, and a Python child still starting (the
    migration) ends quietly on SIGTERM, where SIGINT makes it print "Fatal Python error"
    into this process's stderr, which it shares.

    A terminal's Ctrl-C reaches the whole process group anyway; a `kill PID` or a CI
    runner's SIGTERM may reach this process alone. Linux lists a task's children in
    /proc (proc(5), /proc/[pid]/task/[tid]/children); elsewhere this does nothing.
    """
    children = _children_of(os.getpid())
    descendants = list(children)
    for pid in descendants:  # grows while it is walked: breadth first
        descendants.extend(_children_of(pid))
    for pid in descendants:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGINT if _is_copier(pid) else signal.SIGTERM)
    deadline = time.monotonic() + 5
    for pid in descendants:
        while _running(pid, reap=pid in children):
            if time.monotonic() > deadline:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                deadline += 1
            time.sleep(0.01)


def _is_copier(pid: int) -> bool:
    """Whether `pid` runs Copier (`python -m copier ...` or the `copier` script)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            argv = file.read().split(b"\0")
    except OSError:
        return False
    return any(arg == b"copier" or arg.endswith(b"/copier") for arg in argv[:3])


def _children_of(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as file:
                found.extend(int(child) for child in file.read().split())
    return found


def _running(pid: int, *, reap: bool) -> bool:
    """Whether `pid` still runs; a child of this process is reaped once it has ended,
    a grandchild is reaped by whoever inherited it."""
    try:
        if reap:
            return os.waitpid(pid, os.WNOHANG) == (0, 0)
        with open(f"/proc/{pid}/stat", encoding="ascii") as file:
            return file.read().rpartition(")")[2].split()[0] != "Z"  # a zombie has ended
    except OSError:  # ChildProcessError: already reaped by its owner; no /proc entry: gone
        return False


def _validate(args: argparse.Namespace) -> int:
    model = validate_file(args.file)
    names = ", ".join(env.name for env in model.environments)
    print(f"{args.file}: OK: service {model.name}, environments {names}")
    return EXIT_OK


def _new(args: argparse.Namespace) -> int:
    from .render import render_new, unrecorded_source_note

    dest = render_new(args.file, args.dest, template=args.template, vcs_ref=args.vcs_ref)
    print(f"{args.file}: rendered into {dest}")
    if note := unrecorded_source_note(dest):
        print(f"note: {note}", file=sys.stderr)
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo, run_demo_deploy, stop_demo

    if args.stop:
        if args.file or args.deploy or args.keep:
            raise UsageError("demo --stop takes --workdir only")
        return stop_demo(args.workdir)
    if not args.file:
        raise UsageError("demo needs FILE, the service.yaml to demonstrate")
    if args.keep and not args.deploy:
        raise UsageError("demo --keep goes with --deploy")
    if args.deploy:
        return run_demo_deploy(args.file, args.workdir, keep=args.keep)
    return run_demo(args.file, Path(args.workdir) / validate_file(args.file).name)


def _explain(args: argparse.Namespace) -> int:
    sys.stdout.write(explain(validate_file(args.file), args.env, source=args.file))
    return EXIT_OK


def _sync(args: argparse.Namespace) -> int:
    from .lifecycle import restore_work_tree, sync, work_tree_is_clean

    clean = work_tree_is_clean(args.repo)
    try:
        result = sync(args.repo)
    except Interrupted:
        if clean:  # a dirty tree is refused before sync writes anything: nothing to undo
            restore_work_tree(args.repo)
        raise
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
    if result.drift or result.broken:
        return EXIT_FAILED
    return EXIT_TEMPLATE_OUTDATED if result.update_available else EXIT_OK


def _policy(args: argparse.Namespace) -> int:
    from .errors import UsageError
    from .iam import deployer_policies, state_bucket_notes

    model = validate_file(args.file)
    names = [env.name for env in model.environments]
    if args.env is None and len(names) > 1:
        raise UsageError(f"{args.file}: which environment? --env one of: {', '.join(names)}")
    wanted = args.env or names[0]
    env = next((env for env in model.environments if env.name == wanted), None)
    if env is None:
        raise UsageError(f"{args.file}: --env: expected one of {', '.join(names)}, found {wanted!r}")
    sys.stdout.write(json.dumps(deployer_policies(model.name, env), indent=2) + "\n")
    # Where the state bucket is shared across accounts, its policy is part of the grant.
    for note in state_bucket_notes(model, env):
        sys.stderr.write(f"note: {note}\n")
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
        "demo",
        help="render a spec into a scratch directory and plan it (or, with --deploy, deploy it blue/green)"
        " against a local AWS emulator",
    )
    demo.add_argument("file", metavar="FILE", nargs="?")
    demo.add_argument(
        "--workdir",
        default=".demo",
        help="scratch directory (default: .demo); demo renders into WORKDIR/NAME, which must be new,"
        " empty or a folder demo made",
    )
    demo.add_argument(
        "--deploy",
        action="store_true",
        help="rehearse the whole lifecycle: apply, put an image in the emulated ECR, deploy/execute.sh deploy"
        " every environment (again after an edit of FILE: a second blue/green deployment)",
    )
    demo.add_argument(
        "--keep", action="store_true", help="leave the emulator running; WORKDIR/emulator.env says where"
    )
    demo.add_argument("--stop", action="store_true", help="stop the emulator --keep left running in WORKDIR")
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
