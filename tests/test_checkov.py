"""checkov on the rendered Terraform of every spec: no failed check, and only a few explained skips.

checkov lives in a virtualenv of its own (`make .venv-checkov`), since it pins a
`packaging` that conflicts with pytest's. The test finds it through $CHECKOV, then
.venv-checkov/bin/checkov, then PATH, and fails (never skips) without it. checkov
runs once per spec, the specs two at a time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.support.rendering import SPECS, rendered, spec_id
from tests.support.template_repo import PROJECT_ROOT

TEMPLATE_TERRAFORM = PROJECT_ROOT / "template" / "deploy" / "terraform"
CHECKOV_VENV_BINARY = PROJECT_ROOT / ".venv-checkov" / "bin" / "checkov"
HOW_TO_GET_CHECKOV = (
    "Run `make .venv-checkov` (checkov in a virtualenv of its own), or set $CHECKOV to a checkov binary."
)
MAX_SKIPS = 8
SKIP = re.compile(r"#checkov:skip=(?P<check>CKV2?_[A-Z0-9]+_\d+):(?P<reason>.*)$")


def checkov_binary() -> str:
    """checkov: $CHECKOV, then .venv-checkov/bin/checkov, then PATH; else a failed test saying how to get it."""
    explicit = os.environ.get("CHECKOV")
    if explicit:
        found = shutil.which(explicit)
        if not found:
            pytest.fail(f"$CHECKOV={explicit} is not an executable. {HOW_TO_GET_CHECKOV}", pytrace=False)
        return found
    found = shutil.which(str(CHECKOV_VENV_BINARY)) or shutil.which("checkov")
    if not found:
        pytest.fail(f"checkov is not installed. {HOW_TO_GET_CHECKOV}", pytrace=False)
    return found


def run_checkov(terraform_dir: Path) -> dict[str, Any]:
    """The terraform report of `checkov -d terraform_dir`: summary and passed, failed, skipped checks."""
    result = subprocess.run(
        [
            checkov_binary(),
            "--directory",
            str(terraform_dir),
            "--framework",
            "terraform",
            "--output",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov printed no JSON (exit {result.returncode}):\n{result.stderr[-4000:]}")
    reports = report if isinstance(report, list) else [report]
    terraform = [r for r in reports if r.get("check_type", "terraform") == "terraform"]
    assert len(terraform) == 1, f"one terraform report expected, found {len(terraform)}"
    return terraform[0]


@cache
def reports() -> dict[str, dict[str, Any]]:
    """checkov's report of each spec's rendered deploy/terraform, by spec id."""
    checkov_binary()
    terraform_dirs = {spec_id(spec): rendered(spec) / "deploy" / "terraform" for spec in SPECS}
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(terraform_dirs, pool.map(run_checkov, terraform_dirs.values()), strict=True))


def template_skips() -> list[tuple[Path, int, re.Match[str]]]:
    """Every inline `#checkov:skip` of the template's Terraform: file, line number, match."""
    # Text, not python-hcl2: the *.tf.jinja files are Jinja until rendered, and checkov reads skips by line.
    return [
        (path, number, match)
        for path in sorted(TEMPLATE_TERRAFORM.rglob("*.tf*"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if (match := SKIP.search(line))
    ]


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_checkov_finds_no_failed_check(spec):
    report = reports()[spec_id(spec)]
    summary = report["summary"]
    assert summary["parsing_errors"] == 0, report["results"].get("parsing_errors")
    assert summary["resource_count"] > 0, "checkov read no resource"
    failed = [
        f"{check['check_id']} {check['check_name']}: {check['resource']} ({check['file_path']})"
        for check in report["results"]["failed_checks"]
    ]
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_checkov_skips_only_the_template_inline_skips(spec):
    inline = {match["check"]: match["reason"].strip() for _, _, match in template_skips()}
    for check in reports()[spec_id(spec)]["results"]["skipped_checks"]:
        assert inline.get(check["check_id"]), f"{check['check_id']} skipped without an inline reason"
        assert check["check_result"]["suppress_comment"].strip() == inline[check["check_id"]]


def test_inline_skips_are_few_explained_and_inside_a_resource():
    skips = template_skips()
    assert len(skips) <= MAX_SKIPS, f"{len(skips)} checkov skips, at most {MAX_SKIPS}"
    assert sum(path.read_text().count("checkov:skip=") for path in TEMPLATE_TERRAFORM.rglob("*.tf*")) == len(
        skips
    ), "every skip reads #checkov:skip=CKV_..._NNN:reason"
    for path, number, match in skips:
        where = f"{path.relative_to(PROJECT_ROOT)}:{number}"
        assert len(match["reason"].split()) >= 8, f"{where}: the reason says why in a sentence"
        # The enclosing block by its unindented opening line: *.tf.jinja does not parse as HCL.
        lines = path.read_text().splitlines()[: number - 1]
        opening = max(i for i, line in enumerate(lines) if not line.startswith((" ", "#")) and line)
        assert lines[opening].startswith("resource "), f"{where}: a skip sits inside its resource block"
