"""The contract between released templates and the bluegreen package.

A repository generated from template vX is updated with whatever bluegreen the team
has installed, and Copier renders vX again (the base of its three-way merge) with it.
So the model fields a template reads are API: added, never renamed or removed
(tests/model_contract.txt lists them), and a template names the oldest bluegreen that
can render it (`bluegreen_min_version` in copier.yml), which an older one refuses in
one line with the upgrade command.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from bluegreen import __version__
from bluegreen.cli import main
from bluegreen.copier_extension import ServiceModelHook, copier_data, require_version
from bluegreen.errors import TemplateVersionError
from bluegreen.validate import validate_file
from jinja2 import Environment
from packaging.version import Version

from tests.support.rendering import SPECS
from tests.support.template_repo import PROJECT_ROOT, git, make_template_repo
from tests.support.template_repo import url as template_url

CONTRACT = PROJECT_ROOT / "tests/model_contract.txt"


def field_paths(value: object, prefix: str = "model") -> set[str]:
    """Dotted paths of the model's dataclass fields (`[]` for list items); mappings are values."""
    paths: set[str] = set()
    if dataclasses.is_dataclass(value):
        for item in dataclasses.fields(value):
            path = f"{prefix}.{item.name}"
            paths |= {path} | field_paths(getattr(value, item.name), path)
    elif isinstance(value, list):
        for item in value:
            paths |= field_paths(item, f"{prefix}[]")
    return paths


# Context entries of the hook besides `model` whose keys templates read; `model` is the
# dataclass ServiceModel, listed field by field.
CONTEXT_ENTRIES = ("template_release",)


def hook_context(spec: Path) -> dict[str, object]:
    """What ServiceModelHook adds to a render's context for `spec`."""
    data = copier_data(yaml.safe_load(spec.read_text()))
    context = {**data, "_copier_phase": "render", "_copier_answers": data, "template_url": ""}
    ServiceModelHook(Environment()).hook(context)
    return context


def current_fields() -> set[str]:
    fields = set().union(*(field_paths(validate_file(spec)) for spec in SPECS))
    for entry in CONTEXT_ENTRIES:
        fields |= {f"{entry}.{key}" for key in hook_context(SPECS[0])[entry]}
    return fields


def contract_lines() -> set[str]:
    return {line for line in CONTRACT.read_text().splitlines() if line and not line.startswith("#")}


def test_no_field_a_released_template_reads_is_renamed_or_removed():
    missing = sorted(contract_lines() - current_fields())
    assert not missing, f"fields templates read are gone (add fields, never rename): {missing}"


def test_the_contract_lists_every_field():
    """A new field joins the contract in the change that adds it (the test above then guards it)."""
    assert sorted(current_fields() - contract_lines()) == []


def test_templates_read_only_contract_fields():
    """Every `model.x.y` (and `template_release.x`) a template file names is a field of the contract."""
    contract = {line.replace("[]", "") for line in contract_lines()}
    read = set()
    names = "|".join(("model", *CONTEXT_ENTRIES))
    for path in (PROJECT_ROOT / "template").rglob("*"):
        if path.is_file():
            read |= set(re.findall(rf"\b(?:{names})(?:\.[a-z_]+)+", path.read_text() + path.name))
    heads = {".".join(ref.split(".")[:2]) for ref in read}
    assert sorted(head for head in heads if head not in contract) == []


def test_an_older_bluegreen_refuses_a_newer_template_in_one_line():
    with pytest.raises(TemplateVersionError) as caught:
        require_version("9.1.0", installed="0.2.0")
    message = str(caught.value)
    assert "\n" not in message
    assert "needs bluegreen >= 9.1.0" in message and "bluegreen 0.2.0 is installed" in message
    assert "pip install --upgrade 'bluegreen>=9.1.0'" in message
    require_version("0.2.0", installed="0.2.0")  # equal is enough
    require_version(None, installed="0.2.0")  # templates from before the setting


def test_the_template_needs_no_newer_bluegreen_than_this_one():
    config = yaml.safe_load((PROJECT_ROOT / "copier.yml").read_text())
    assert Version(config["bluegreen_min_version"]["default"]) <= Version(__version__)


@pytest.fixture(scope="module")
def future_template(tmp_path_factory) -> Path:
    """This template as a release that needs bluegreen 99."""
    repo = make_template_repo(tmp_path_factory.mktemp("future") / "bluegreen", tag=None)
    config = repo / "copier.yml"
    text = config.read_text()
    current = yaml.safe_load(text)["bluegreen_min_version"]["default"]
    config.write_text(text.replace(f'default: "{current}"', 'default: "99.0.0"', 1))
    git(repo, "commit", "-q", "-am", "needs bluegreen 99")
    git(repo, "tag", "v99.0.0")
    return repo


def test_bluegreen_new_refuses_a_template_that_needs_a_newer_bluegreen(future_template, tmp_path, capsys):
    spec = PROJECT_ROOT / "tests/specs/minimal.yaml"
    code = main(["new", str(spec), str(tmp_path / "out"), "--template", template_url(future_template)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0, err
    assert f"needs bluegreen >= 99.0.0, but bluegreen {__version__} is installed" in err
    assert "pip install --upgrade 'bluegreen>=99.0.0'" in err
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []


def test_copier_refuses_it_too_without_a_traceback(future_template, tmp_path):
    spec = PROJECT_ROOT / "tests/specs/minimal.yaml"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "copier",
            "copy",
            "--trust",
            "--defaults",
            "--data-file",
            str(spec),
            template_url(future_template),
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "needs bluegreen >= 99.0.0" in result.stderr
    assert "Traceback" not in result.stderr


def released_tags() -> list[str]:
    tags = git(PROJECT_ROOT, "tag", "--list", "v*").split()
    return sorted(tags, key=lambda tag: Version(tag.lstrip("v")))


@pytest.mark.skipif(not released_tags(), reason="no template release is tagged in this clone yet")
def test_the_previous_release_renders_with_this_bluegreen(tmp_path):
    """The newest tagged template, rendered by this package: what `copier update` does for its merge base."""
    tag = released_tags()[-1]
    repo = tmp_path / "release"
    repo.mkdir()
    archive = subprocess.run(
        ["git", "archive", tag], cwd=PROJECT_ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(repo)], input=archive, check=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", tag)
    git(repo, "tag", tag)
    for spec in SPECS:
        dest = tmp_path / spec.stem
        assert main(["new", str(spec), str(dest), "--template", template_url(repo)]) == 0, spec


def test_a_template_of_bluegreen_0_1_fails_with_a_clear_message(tmp_path):
    """bluegreen 0.1's template loads `generator.copier_extension`: named, with what to do, in one line."""
    repo = make_template_repo(tmp_path / "v0.1", tag=None)
    config = repo / "copier.yml"
    config.write_text(config.read_text().replace("bluegreen.copier_extension", "generator.copier_extension"))
    git(repo, "commit", "-q", "-am", "as released in 0.1")
    git(repo, "tag", "v0.1.0")
    # Outside the checkout, where no folder named `generator` is importable (as for every user).
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    spec = str(PROJECT_ROOT / "tests/specs/minimal.yaml")
    result = subprocess.run(
        [sys.executable, "-m", "bluegreen.cli", "new", spec, "out", "--template", template_url(repo)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    err = result.stderr.strip()
    assert result.returncode == 2 and "\n" not in err, err
    assert "made for bluegreen 0.1" in err and "pip install 'bluegreen<0.2'" in err
    assert not (tmp_path / "out").exists()
