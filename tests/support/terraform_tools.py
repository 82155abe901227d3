"""Finding and running the real terraform binary and the hashicorp/aws provider mirror, for tests.

Tests that need terraform fail (never skip) with a message saying how to get what
is missing:

- terraform: $TERRAFORM, else `terraform` on PATH;
- the provider: $TF_PLUGIN_DIR, else a filesystem mirror (a folder holding
  registry.terraform.io/hashicorp/aws) under /opt, /usr/local/share, /usr/share
  or /root; `terraform init -plugin-dir=MIRROR` then works offline and links
  the provider instead of copying it.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

PROVIDER_PATH = Path("registry.terraform.io", "hashicorp", "aws")
MIRROR_SEARCH_ROOTS = ("/opt", "/usr/local/share", "/usr/share", "/root")
# Deep enough for /root/.terraform.d/plugins/registry.terraform.io/hashicorp/aws.
MIRROR_SEARCH_DEPTH = 3

HOW_TO_GET_TERRAFORM = (
    "Install Terraform >= 1.5 (https://developer.hashicorp.com/terraform/install) and put it on PATH, "
    "or set $TERRAFORM to the binary."
)
HOW_TO_GET_PROVIDER = (
    "Set $TF_PLUGIN_DIR to a provider mirror: a folder holding "
    "registry.terraform.io/hashicorp/aws/<5.x version>/<os>_<arch>/terraform-provider-aws_*. "
    "Make one on a machine with internet access with `terraform providers mirror DIR` in a "
    "rendered environment root."
)


class ToolMissing(RuntimeError):
    """terraform or the provider mirror is not on this machine; the message says how to get it."""


@functools.cache
def terraform_binary() -> str:
    """Path of the terraform binary: $TERRAFORM, then PATH."""
    explicit = os.environ.get("TERRAFORM")
    if explicit:
        found = shutil.which(explicit)
        if not found:
            raise ToolMissing(f"$TERRAFORM={explicit} is not an executable. {HOW_TO_GET_TERRAFORM}")
        return found
    found = shutil.which("terraform")
    if not found:
        raise ToolMissing(f"terraform is not on PATH. {HOW_TO_GET_TERRAFORM}")
    return found


def _is_mirror(path: Path) -> bool:
    return (path / PROVIDER_PATH).is_dir()


@functools.cache
def plugin_dir() -> Path:
    """The provider mirror: $TF_PLUGIN_DIR, then the first one found under the usual roots."""
    explicit = os.environ.get("TF_PLUGIN_DIR")
    if explicit:
        path = Path(explicit).expanduser()
        if not _is_mirror(path):
            raise ToolMissing(f"$TF_PLUGIN_DIR={explicit} holds no {PROVIDER_PATH}. {HOW_TO_GET_PROVIDER}")
        return path
    for root in MIRROR_SEARCH_ROOTS:
        found = _find_mirror(Path(root), MIRROR_SEARCH_DEPTH)
        if found is not None:
            return found
    searched = ", ".join(MIRROR_SEARCH_ROOTS)
    raise ToolMissing(f"No hashicorp/aws provider mirror under {searched}. {HOW_TO_GET_PROVIDER}")


def _find_mirror(root: Path, depth: int) -> Path | None:
    """Breadth-first: the shallowest folder under `root` (itself included) that is a mirror."""
    level = [root]
    for _ in range(depth + 1):
        next_level = []
        for folder in sorted(level):
            if _is_mirror(folder):
                return folder
            try:
                next_level += [
                    child for child in folder.iterdir() if child.is_dir() and not child.is_symlink()
                ]
            except OSError:
                continue
        level = next_level
    return None


def require_terraform() -> tuple[str, Path]:
    """terraform and the mirror, or a failed test that says how to get them (never a skip)."""
    try:
        return terraform_binary(), plugin_dir()
    except ToolMissing as error:
        pytest.fail(str(error), pytrace=False)


def terraform_env() -> dict[str, str]:
    """Non-interactive terraform that never talks to a real AWS account or checkpoint."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    cli_config = env.get("TF_CLI_CONFIG_FILE")
    if cli_config and not Path(cli_config).expanduser().is_file():
        # terraform would warn about the missing file on every call.
        del env["TF_CLI_CONFIG_FILE"]
    env.pop("TF_PLUGIN_CACHE_DIR", None)
    env.update({"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"})
    return env


def run_terraform(
    cwd: Path, *args: str, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run terraform in `cwd`; with `check`, a failure fails the test with terraform's output."""
    binary, _ = require_terraform()
    result = subprocess.run(
        [binary, *args],
        check=False,
        cwd=cwd,
        env=terraform_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"`terraform {' '.join(args)}` failed in {cwd} (exit {result.returncode}):\n"
            f"{result.stderr.strip() or result.stdout.strip()}",
            pytrace=False,
        )
    return result


def init_offline(root: Path) -> None:
    """`terraform init` of a root from the mirror, without its backend (no state access)."""
    _, mirror = require_terraform()
    run_terraform(root, "init", "-backend=false", f"-plugin-dir={mirror}", "-input=false", "-no-color")


def validate_json(root: Path) -> dict[str, Any]:
    """`terraform validate -json` of an initialised root."""
    result = run_terraform(root, "validate", "-json", "-no-color", check=False)
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"`terraform validate -json` in {root} printed no JSON:\n{result.stderr}", pytrace=False)
