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
import subprocess
from pathlib import Path
from typing import Any

import pytest
from bluegreen.emulator import sandbox

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
    """Path of the terraform binary: $TERRAFORM, then PATH (sandbox.find_terraform)."""
    try:
        return sandbox.find_terraform()
    except sandbox.SandboxError as error:
        raise ToolMissing(str(error)) from None


@functools.cache
def plugin_dir() -> Path:
    """The provider mirror (sandbox.find_plugin_dir); tests need one, they never download."""
    try:
        found = sandbox.find_plugin_dir()
    except sandbox.SandboxError as error:
        raise ToolMissing(f"{error}. {HOW_TO_GET_PROVIDER}") from None
    if found is None:
        raise ToolMissing(f"No hashicorp/aws provider mirror on this machine. {HOW_TO_GET_PROVIDER}")
    return found


def require_terraform() -> tuple[str, Path]:
    """terraform and the mirror, or a failed test that says how to get them (never a skip)."""
    try:
        return terraform_binary(), plugin_dir()
    except ToolMissing as error:
        pytest.fail(str(error), pytrace=False)


def terraform_env() -> dict[str, str]:
    """sandbox.terraform_env, with no plugin cache: init links the mirror's provider instead."""
    env = sandbox.terraform_env()
    env.pop("TF_PLUGIN_CACHE_DIR", None)
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
