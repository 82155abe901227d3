"""`bluegreen new` and `copier copy` render the same tree and reject the same specs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from bluegreen.cli import main
from bluegreen.schema import service_schema

from tests.support.template_repo import PROJECT_ROOT, make_template_repo
from tests.support.template_repo import url as template_url

SPECS = [
    *sorted((PROJECT_ROOT / "tests/specs").glob("*.yaml")),
    PROJECT_ROOT / "examples/hello-world/service.yaml",
]
COPIER = [sys.executable, "-m", "copier"]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return make_template_repo(tmp_path_factory.mktemp("template") / "repo")


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def copier_copy(template: Path, spec: Path, dest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *COPIER,
            "copy",
            "--trust",
            "--defaults",
            "--quiet",
            "--data-file",
            str(spec),
            template_url(template),
            str(dest),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem if p.stem != "service" else p.parent.name)
def test_bluegreen_new_and_copier_copy_agree(template, tmp_path, spec):
    assert main(["new", str(spec), str(tmp_path / "new"), "--template", template_url(template)]) == 0
    result = copier_copy(template, spec, tmp_path / "copied")
    assert result.returncode == 0, result.stderr
    new, copied = tree(tmp_path / "new"), tree(tmp_path / "copied")
    assert sorted(new) == sorted(copied)
    # bluegreen keeps the user's file verbatim (comments included); Copier writes the same data.
    assert new.pop("service.yaml") == spec.read_bytes()
    assert yaml.safe_load(copied.pop("service.yaml")) == yaml.safe_load(spec.read_text())
    assert new == copied


def test_copier_rejects_what_bluegreen_rejects(template, tmp_path, capsys):
    spec = tmp_path / "service.yaml"
    text = (PROJECT_ROOT / "examples/hello-world/service.yaml").read_text()
    spec.write_text(text.replace("memory: 1024", "memory: 9999").replace("min: 2", "min: 7"))
    assert main(["new", str(spec), str(tmp_path / "new")]) == 2
    ours = [line.split(": ", 1)[1] for line in capsys.readouterr().err.splitlines()]
    result = copier_copy(template, spec, tmp_path / "copied")
    assert result.returncode != 0
    theirs = [
        line.split(": ", 1)[1] for line in result.stderr.splitlines() if line.startswith("service.yaml: ")
    ]
    assert theirs == ours and len(ours) == 2
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "copied").exists() and not (tmp_path / "new").exists()


def test_copier_questions_are_the_spec_blocks():
    """Every asked question is a spec block; the others are template settings (when: false)."""
    config = yaml.safe_load((PROJECT_ROOT / "copier.yml").read_text())
    questions = [
        key for key, value in config.items() if not key.startswith("_") and value.get("when") is not False
    ]
    assert questions == list(service_schema()["properties"])
    settings = {
        key for key, value in config.items() if not key.startswith("_") and value.get("when") is False
    }
    assert settings == {"bluegreen_min_version", "template_url"}


def test_answers_file_records_template_and_spec(template, tmp_path):
    spec = PROJECT_ROOT / "tests/specs/minimal.yaml"
    assert main(["new", str(spec), str(tmp_path / "out"), "--template", template_url(template)]) == 0
    answers = yaml.safe_load((tmp_path / "out/.copier-answers.yml").read_text())
    assert answers["_src_path"] == template_url(template)
    assert answers["_commit"] == "v1.0.0"
    assert answers["name"] == "minimal" and answers["app"] == {"runtime": "python", "port": 8000}


def test_new_refuses_a_non_empty_destination(tmp_path, capsys):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    assert main(["new", str(PROJECT_ROOT / "tests/specs/minimal.yaml"), str(dest)]) == 2
    assert "expected a new or empty directory" in capsys.readouterr().err
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]


def test_new_fills_an_empty_destination_and_creates_parents(template, tmp_path):
    (tmp_path / "empty").mkdir()
    spec = str(PROJECT_ROOT / "tests/specs/minimal.yaml")
    assert main(["new", spec, str(tmp_path / "empty"), "--template", template_url(template)]) == 0
    assert main(["new", spec, str(tmp_path / "a/b/c"), "--template", template_url(template)]) == 0
    assert (tmp_path / "empty/service.yaml").is_file() and (tmp_path / "a/b/c/service.yaml").is_file()
    assert not [p for p in tmp_path.rglob(".*") if p.name.startswith((".empty.", ".c."))]


def test_failed_render_leaves_nothing(tmp_path, capsys):
    """A template that breaks mid-render: no destination, no staging directory, no created parents."""
    broken = make_template_repo(tmp_path / "tpl", tag=None)
    (broken / "template" / "zz-broken.txt.jinja").write_text("{{ model.no_such_field.boom }}\n")
    subprocess.run(["git", "-C", str(broken), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(broken), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "break"],
        check=True,
    )
    code = main(
        [
            "new",
            str(PROJECT_ROOT / "tests/specs/minimal.yaml"),
            str(tmp_path / "x/y/out"),
            "--template",
            str(broken),
        ]
    )
    assert code == 1
    assert not (tmp_path / "x").exists()
    assert "Traceback" not in capsys.readouterr().err


def test_schema_command_prints_the_schema(capsys):
    assert main(["schema"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == service_schema()


def test_renders_from_several_threads_leave_the_process_as_they_found_it(tmp_path: Path):
    """Copier runs with process-wide settings changed (tempfile's folder, stderr, warning filters).
    Renders in threads at once must each get their own scratch folder, all succeed, and leave
    tempfile's folder as it was: without the lock one thread restores another's scratch folder
    (deleted by then) as the process's temp folder."""
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    from bluegreen.render import render_new

    spec = PROJECT_ROOT / "tests" / "specs" / "minimal.yaml"
    before = tempfile.tempdir
    with ThreadPoolExecutor(4) as pool:
        repos = list(pool.map(lambda n: render_new(spec, tmp_path / f"repo-{n}"), range(4)))
    assert tempfile.tempdir == before
    assert tempfile.gettempdir() and Path(tempfile.mkdtemp(dir=None)).is_dir()
    # (The answers file records the template's commit, a fresh one per render of a dirty checkout.)
    trees = [{k: v for k, v in tree(repo).items() if k != ".copier-answers.yml"} for repo in repos]
    assert all(t == trees[0] for t in trees), "the same spec renders the same repository in every thread"
