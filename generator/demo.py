"""`bluegreen demo`: render a spec and plan every environment against a local AWS emulator."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import __version__
from .emulator.sandbox import (
    Emulator,
    SandboxError,
    client,
    credentials_for_account,
    find_plugin_dir,
    find_terraform,
    format_summary,
    is_answering,
    plan_environment,
    plan_summary,
    prepare_environment,
    seed_environment,
    stop_detached,
    terraform,
)
from .errors import Problem, RepositoryError, ToolError, UsageError
from .render import render_new
from .validate import validate_file

# What `demo` writes into each folder it creates (DIR/NAME): only a folder holding it is one
# `demo` may delete or render over again. It is outside git: `--deploy` lists it in the repo's
# .git/info/exclude (see _LOCAL_FILES); the plan-only render is no git repository.
MARKER = ".bluegreen-demo"
_DEMO_EMAIL = "demo@bluegreen.invalid"


def _claim(folder: Path) -> bool:
    """Whether `folder` is one `demo` made (True) or free to make (False: absent or empty).

    Anything else (a file, a folder with content but no marker, a marked folder whose git
    history has commits `demo` did not make) is refused before anything is touched or started.
    """
    if not folder.exists() and not folder.is_symlink():
        return False
    if folder.is_dir() and not folder.is_symlink():
        entries = sorted(entry.name for entry in folder.iterdir())
        if not entries:
            return False
        if (folder / MARKER).is_file():
            if not (folder / ".git").exists() or _only_demo_commits(folder):
                return True
            found = f"{MARKER}, but a git repository with commits bluegreen demo did not make"
        elif ".git" in entries:
            commits = int(_git_quiet(folder, "rev-list", "--count", "--all").strip() or 0)
            found = f"a git repository ({_count(commits, 'commit')}, {_count(len(entries), 'entry')})"
        else:
            found = f"a folder with {_count(len(entries), 'entry')}"
        found += f" and no {MARKER}" if not (folder / MARKER).is_file() else ""
    else:
        found = "a symbolic link" if folder.is_symlink() else "a file"
    found += "; move it away or pick another --workdir"
    expected = f"no folder, an empty one or one bluegreen demo made (holding {MARKER})"
    raise RepositoryError(str(folder), [Problem(None, None, "demo", expected, found)])


def _count(number: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{number} {noun if number == 1 else plural}"


def _only_demo_commits(repo: Path) -> bool:
    authors = _git_quiet(repo, "log", "--all", "--format=%ae%n%ce")
    return set(authors.split()) <= {_DEMO_EMAIL}


def _git_quiet(repo: Path, *args: str) -> str:
    """git's output, or "" when it fails (a folder that only looks like a repository)."""
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    return result.stdout if result.returncode == 0 else ""


def _mark(folder: Path, spec: str | Path) -> None:
    (folder / MARKER).write_text(
        f"Made by bluegreen {__version__} `bluegreen demo` from {Path(spec).absolute()}.\n"
        "bluegreen demo deletes and renders this folder again; it refuses folders without this file.\n"
    )


def run_demo(spec_path: str | Path, workdir: str | Path, *, out: Any = None) -> int:
    """Render `spec_path` into `workdir`, plan every environment against a local emulator.

    Starts the emulator, seeds it with the network and zone each environment looks
    up, plans every environment and prints a summary per environment, then stops
    the emulator whatever happens. Returns 0 when every environment planned.
    """

    out = out or sys.stdout
    model = validate_file(spec_path)
    ours = _claim(Path(workdir))
    find_terraform()  # fail before rendering and starting anything when there is none
    if ours:
        shutil.rmtree(workdir)
    repo = render_new(spec_path, Path(workdir))
    _mark(repo, spec_path)
    print(f"rendered {spec_path} into {repo}", file=out)
    failures = 0
    with Emulator(patched=True) as emulator:
        print(f"local AWS emulator (moto) at {emulator.endpoint}", file=out)
        for env in model.environments:
            started = time.monotonic()
            try:
                seed_environment(emulator.endpoint, env)
                plan = plan_environment(repo, env, emulator.endpoint)
            except SandboxError as error:
                print(f"environment {env.name}: plan failed:\n{error}", file=out)
                failures += 1
                continue
            print(format_summary(env.name, plan_summary(plan), time.monotonic() - started), file=out)
    print("emulator stopped; nothing left running", file=out)
    return 0 if failures == 0 else 1


# --- `bluegreen demo FILE --deploy`: the whole lifecycle, rehearsed against the emulator ----------

EMULATOR_ENV_FILE = "emulator.env"
# Files of a deployment rehearsal that are not the repository's: git ignores them.
_LOCAL_FILES = (
    MARKER,
    ".terraform/",
    ".terraform.d/",
    "*.tfstate",
    "*.tfstate.*",
    "*.tfplan",
    ".terraform.lock.hcl",
    "emulator_override.tf",
    "deploy.env",
)


def run_demo_deploy(
    spec_path: str | Path, workdir: str | Path, *, keep: bool = False, out: Any = None
) -> int:
    """Render `spec_path` into WORKDIR/NAME (or sync it there), then deploy every environment
    blue/green against the emulator with the repo's own deploy/execute.sh.

    The repo is a git repository (its commit tags the image). The emulator is the one
    WORKDIR/emulator.env names when it still answers, else a new one; with `keep` it
    stays up and emulator.env says where it is and which credentials each environment
    uses, so that running this again after editing the spec deploys the change as a
    second blue/green deployment. Returns 0 when every environment deployed.
    """
    out = out or sys.stdout
    model = validate_file(spec_path)
    ours = _claim(Path(workdir) / model.name)
    find_terraform()
    tools = _deploy_tools()
    workdir = Path(workdir).absolute()
    repo = _render_or_sync(Path(spec_path), workdir / model.name, ours, out)
    model = validate_file(repo / "service.yaml")
    tag = _git(repo, "rev-parse", "HEAD").strip()
    env_file = workdir / EMULATOR_ENV_FILE
    endpoint = _kept_endpoint(env_file)
    emulator: Emulator | None = None
    if endpoint:
        print(f"local AWS emulator (moto) still running at {endpoint}", file=out)
    else:
        emulator = Emulator(patched=True, detached=keep, log_path=workdir / "emulator.log" if keep else None)
        endpoint = emulator.start().endpoint
        print(f"local AWS emulator (moto) at {endpoint}", file=out)
    try:
        failures = _deploy_everywhere(repo, model, endpoint, tag, tools=tools, out=out)
        if keep:
            pid = emulator.detach() if emulator else _kept_pid(env_file)
            _write_env_file(env_file, endpoint, pid, model)
            print(
                f"emulator left running; {env_file} holds its endpoint and credentials. "
                f"Stop it: bluegreen demo --stop --workdir {workdir}",
                file=out,
            )
            emulator = None
        return 0 if failures == 0 else 1
    finally:
        if emulator is not None:
            emulator.stop()
            print("emulator stopped; nothing left running", file=out)


def stop_demo(workdir: str | Path, *, out: Any = None) -> int:
    """Stop the emulator a `demo --deploy --keep` left running in WORKDIR."""
    out = out or sys.stdout
    env_file = Path(workdir) / EMULATOR_ENV_FILE
    if not env_file.is_file():
        raise UsageError(f"no demo left running in {workdir} (no {EMULATOR_ENV_FILE})")
    pid = _kept_pid(env_file)
    stopped = pid is not None and stop_detached(pid)
    env_file.unlink()
    print("emulator stopped" if stopped else "the emulator was no longer running", file=out)
    return 0


def _deploy_tools() -> dict[str, str]:
    """PATH additions for deploy/execute.sh: the AWS CLI (next to this Python when pip installed it)."""
    found = shutil.which("aws") or shutil.which("aws", path=str(Path(sys.executable).parent))
    if not found:
        raise ToolError(
            "bluegreen demo --deploy runs deploy/execute.sh, which needs the AWS CLI: pip install awscli"
        )
    for tool in ("jq", "git"):
        if not shutil.which(tool):
            raise ToolError(f"bluegreen demo --deploy runs deploy/execute.sh, which needs {tool}")
    return {"aws": found}


def _git(repo: Path, *args: str) -> str:
    # The demo's commits are the demo's whatever identity the environment sets: _claim counts on it.
    identity = {
        "GIT_AUTHOR_NAME": "bluegreen demo",
        "GIT_AUTHOR_EMAIL": _DEMO_EMAIL,
        "GIT_COMMITTER_NAME": "bluegreen demo",
        "GIT_COMMITTER_EMAIL": _DEMO_EMAIL,
    }
    try:
        return subprocess.run(
            ["git", *args],
            cwd=repo,
            env={**os.environ, **identity},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except subprocess.CalledProcessError as error:
        raise ToolError(f"git {' '.join(args)} in {repo} failed: {error.stderr.strip()}") from None


def _commit(repo: Path, message: str) -> None:
    _git(repo, "add", "-A")
    if _git(repo, "status", "--porcelain"):
        _git(repo, "commit", "-qm", message)


def _render_or_sync(spec: Path, repo: Path, ours: bool, out: Any) -> Path:
    """A new render, committed; or, when `repo` is a demo's repository, a fresh render of `spec`
    in its place, committed (state, .terraform and the emulator override are git-ignored and stay)."""
    if not (ours and (repo / ".copier-answers.yml").is_file() and (repo / ".git").is_dir()):
        if ours:
            shutil.rmtree(repo)  # a demo's render that did not get as far as its first commit
        render_new(spec, repo)
        _mark(repo, spec)
        _git(repo, "init", "-q")
        (repo / ".git" / "info" / "exclude").write_text("\n".join(_LOCAL_FILES) + "\n")
        _commit(repo, "bluegreen demo: rendered")
        print(f"rendered {spec} into {repo}", file=out)
        return repo
    # `bluegreen sync` without keeping edits (the demo's repo has none), from the template this
    # bluegreen ships: sync fetches the template the answers name, maybe a URL out of reach.
    fresh = render_new(spec, Path(tempfile.mkdtemp(prefix="bluegreen-demo-")) / "repo")
    try:
        for path in filter(None, _git(repo, "ls-files", "-z").split("\0")):
            (repo / path).unlink(missing_ok=True)
        shutil.copytree(fresh, repo, dirs_exist_ok=True, symlinks=True)
    finally:
        shutil.rmtree(fresh.parent, ignore_errors=True)
    changed = len([line for line in _git(repo, "status", "--porcelain").splitlines() if line.strip()])
    _commit(repo, "bluegreen demo: synced with service.yaml")
    print(f"synced {repo} with {spec}: {changed} file(s) changed", file=out)
    return repo


def _demo_image(tag: str) -> tuple[str, str]:
    """The manifest of the commit's stand-in image (no Docker here), and its media type."""
    media_type = "application/vnd.docker.distribution.manifest.v2+json"
    config = "sha256:" + hashlib.sha256(f"image of {tag}".encode()).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 2,
            "digest": config,
        },
        "layers": [],
    }
    return json.dumps(manifest, separators=(",", ":")), media_type


def _deploy_everywhere(
    repo: Path, model: Any, endpoint: str, tag: str, *, tools: dict[str, str], out: Any
) -> int:
    manifest, media_type = _demo_image(tag)
    mirror = find_plugin_dir()
    config = None
    if mirror is not None:
        config = repo / ".terraform.d" / "demo.tfrc"
        config.parent.mkdir(exist_ok=True)
        config.write_text(
            f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n'
        )
    path = os.pathsep.join([str(Path(tools["aws"]).parent), os.environ.get("PATH", "")])
    digest = None
    for env in model.environments:
        started = time.monotonic()
        seed_environment(endpoint, env)
        root = prepare_environment(repo, env, endpoint)
        if _applied(root):
            terraform(root, "apply", "-auto-approve", "-input=false", "-lock=false", "-target=module.ecr")
        else:
            # The stack before any image, as a first `terraform apply` leaves it (a service with
            # no task): the first deploy is then a blue/green deployment too.
            print(f"{env.name}: terraform apply (the stack, no image yet)", file=out, flush=True)
            terraform(root, "apply", "-auto-approve", "-input=false", "-lock=false")
        credentials = credentials_for_account(endpoint, env.account_id)
        ecr = client("ecr", endpoint, env.region, credentials)
        repository = env.names["ecr_repository"]
        try:
            digest = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])[
                "imageDetails"
            ][0]["imageDigest"]
        except ecr.exceptions.ImageNotFoundException:
            digest = ecr.put_image(
                repositoryName=repository,
                imageTag=tag,
                imageManifest=manifest,
                imageManifestMediaType=media_type,
            )["image"]["imageId"]["imageDigest"]
        print(f"{env.name}: image {repository}:{tag} ({digest}) in the emulator's ECR", file=out)
        script_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            "PATH": path,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": credentials.access_key,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
            "AWS_EC2_METADATA_DISABLED": "true",
            "IMAGE_TAG": tag,
            "IMAGE_DIGEST": digest,
            "POLL_SECONDS": "1",
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
        }
        if config is not None:
            script_env["TF_CLI_CONFIG_FILE"] = str(config)
        script = str(repo / "deploy" / "execute.sh")
        for command in ("deploy", "status"):
            print(f"$ deploy/execute.sh {command} {env.name}", file=out, flush=True)
            result = subprocess.run(
                [script, command, env.name],
                cwd=repo,
                env=script_env,
                capture_output=True,
                text=True,
                check=False,
            )
            shown = [line for line in result.stdout.splitlines() if not _terraform_noise(line)]
            print("\n".join(shown), file=out)
            if result.returncode != 0:
                print(result.stderr.rstrip(), file=out)
                print(f"environment {env.name}: {command} failed", file=out)
                return 1
        print(f"{env.name}: deployed in {time.monotonic() - started:.0f} s", file=out)
    return 0


def _applied(root: Path) -> bool:
    """Whether the root's (local, emulator) state holds the stack already."""
    state = root / "terraform.tfstate"
    return state.is_file() and bool(json.loads(state.read_text() or "{}").get("resources"))


def _terraform_noise(line: str) -> bool:
    """Terraform's per-resource progress lines: the demo shows what the deployment did instead."""
    return bool(
        re.match(r"^(module\.|data\.|Plan:|Apply complete|Terraform will perform|  [#+~-] |\s*$)", line)
    )


def _kept_endpoint(env_file: Path) -> str | None:
    values = _read_env_file(env_file)
    endpoint = values.get("AWS_ENDPOINT_URL")
    return endpoint if endpoint and is_answering(endpoint) else None


def _kept_pid(env_file: Path) -> int | None:
    pid = _read_env_file(env_file).get("BLUEGREEN_EMULATOR_PID")
    return int(pid) if pid and pid.isdigit() else None


def _read_env_file(env_file: Path) -> dict[str, str]:
    if not env_file.is_file():
        return {}
    pairs = (
        line.split("=", 1)
        for line in env_file.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    return {key: value for key, value in pairs}


def _write_env_file(env_file: Path, endpoint: str, pid: int | None, model: Any) -> None:
    lines = [
        "# The local AWS emulator `bluegreen demo --deploy --keep` left running.",
        "# Per environment ENV: ENV_AWS_ACCESS_KEY_ID, ENV_AWS_SECRET_ACCESS_KEY and ENV_AWS_DEFAULT_REGION",
        "# are what to export as AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_DEFAULT_REGION.",
        f"AWS_ENDPOINT_URL={endpoint}",
        f"BLUEGREEN_EMULATOR_PID={pid or ''}",
    ]
    for env in model.environments:
        credentials = credentials_for_account(endpoint, env.account_id)
        prefix = re.sub(r"[^A-Z0-9]", "_", env.name.upper())
        lines += [
            f"{prefix}_AWS_ACCESS_KEY_ID={credentials.access_key}",
            f"{prefix}_AWS_SECRET_ACCESS_KEY={credentials.secret_key}",
            f"{prefix}_AWS_DEFAULT_REGION={env.region}",
        ]
    env_file.write_text("\n".join(lines) + "\n")
