"""Fixtures for the tests that run terraform against the local AWS emulator (moto in server mode).

One patched moto server (tests/support/moto_server.py) serves the whole session
and is stopped at its end; each test gets it wiped clean (`emulator`), so it seeds
exactly what it needs and no test sees another's resources.
"""

from __future__ import annotations

import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from bluegreen.emulator import sandbox


@pytest.fixture(scope="session")
def terraform_toolchain() -> str:
    """The terraform binary, or a failed test saying how to get one (never a skip).

    The provider comes from $TF_PLUGIN_DIR or the machine's mirror when there is
    one; without, `terraform init` downloads it, as on a laptop.
    """
    try:
        return sandbox.find_terraform()
    except sandbox.SandboxError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def moto_server(terraform_toolchain: str) -> Iterator[sandbox.Emulator]:
    """The session's emulator: moto with the patches `terraform apply` needs."""
    server = sandbox.Emulator(patched=True)
    try:
        server.start()
    except sandbox.SandboxError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield server
    finally:
        server.stop()
    assert server.process is None


@pytest.fixture
def emulator(moto_server: sandbox.Emulator) -> sandbox.Emulator:
    """The session's emulator with every account and region wiped (moto's reset API)."""
    request = urllib.request.Request(f"{moto_server.endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    return moto_server


@pytest.fixture
def working_copy(tmp_path: Path):
    """A private copy of a shared rendered repo (tests/support/rendering.py), safe to plan and apply in."""

    def copy(spec: Path) -> Path:
        from tests.support.rendering import rendered, spec_id

        destination = tmp_path / spec_id(spec)
        shutil.copytree(rendered(spec), destination, symlinks=True)
        return destination

    return copy
