"""Running a generated deploy/execute.sh as CI would, with the tools it needs and nothing else."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from bluegreen.emulator import sandbox

from tests.support.template_repo import PROJECT_ROOT

AWS_CLI = Path(sys.executable).parent / "aws"
# A test double of docker (no Docker engine here): it records its arguments and keeps manifests.
DOCKER_DOUBLE = PROJECT_ROOT / "tests" / "support" / "bin" / "docker"
# The programs execute.sh calls besides aws, docker and terraform.
TOOLS = (
    "bash", "cat", "cp", "cut", "date", "dirname", "git", "jq", "mkdir", "mktemp", "rm", "sed",
    "sha256sum", "sleep", "tr",
)  # fmt: skip


def tool_dir(directory: Path, leave_out: str | None = None) -> Path:
    """A directory of links to the tools execute.sh needs (the PATH of a run): the venv's aws, the
    docker double, terraform; all but `leave_out`."""
    if not AWS_CLI.is_file():
        pytest.fail(f"no AWS CLI at {AWS_CLI}: pip install awscli (part of the test extra)", pytrace=False)
    tools = {name: shutil.which(name) for name in TOOLS}
    tools |= {"aws": str(AWS_CLI), "docker": str(DOCKER_DOUBLE), "terraform": sandbox.find_terraform()}
    directory.mkdir(parents=True)
    for name, target in tools.items():
        assert target, f"{name} is not installed"
        if name != leave_out:
            (directory / name).symlink_to(target)
    return directory


def environment(work: Path, endpoint: str, region: str, **extra: str) -> dict[str, str]:
    """The variables of a run against the emulator at `endpoint`: the PATH of tool_dir, a HOME of
    its own (no ~/.aws of the machine's user), terraform offline from the machine's provider
    mirror when there is one (else init downloads, as on a laptop), one-second polls, the
    docker double's log in `work`; `extra` adds or overrides variables."""
    env = {
        "PATH": str(tool_dir(work / "bin")),
        "HOME": str(work),
        "LANG": "C.UTF-8",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": region,
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
        "POLL_SECONDS": "1",
        "DEPLOY_TIMEOUT_MINUTES": "2",
        "DOCKER_DOUBLE_LOG": str(work / "docker.log"),
    }
    mirror = sandbox.find_plugin_dir()
    if mirror is not None:
        config = work / "terraform.tfrc"
        config.write_text(
            f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n'
        )
        env["TF_CLI_CONFIG_FILE"] = str(config)
    return {**env, **extra}


def run(repo: Path, env: Mapping[str, str], *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """deploy/execute.sh ARGS in its own process group: past `timeout` (a safety net against a hung
    script, not an assertion about speed) terraform and aws are killed with it."""
    process = subprocess.Popen(
        [str(repo / "deploy" / "execute.sh"), *args],
        cwd=repo,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
