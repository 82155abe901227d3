"""`bluegreen check` on committed files no render fixes, and on broken answers files.

The drift comparison keeps the team's edits (as sync does), so committed conflict markers
or hand-misformatted Terraform used to pass as "up to date". Those fail check now; so do
answers files Copier could not use, with one line naming the user's file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from bluegreen.cli import main

from tests.support.template_repo import PROJECT_ROOT, git, make_template_repo
from tests.support.template_repo import url as template_url

SPEC = PROJECT_ROOT / "tests/specs/minimal.yaml"
MAIN_TF = "deploy/terraform/environments/production/main.tf"
CONFLICT = "<<<<<<< before updating\n  a = 1\n=======\n  a = 2\n>>>>>>> after updating\n"


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    from bluegreen.render import render_new

    template = make_template_repo(tmp_path_factory.mktemp("template") / "bluegreen")
    repo = render_new(SPEC, tmp_path_factory.mktemp("generated") / "minimal", template=template_url(template))
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "generated")
    return repo


@pytest.fixture
def repo(generated, tmp_path) -> Path:
    return Path(shutil.copytree(generated, tmp_path / "minimal", symlinks=True))


def run_check(repo: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    code = main(["check", str(repo)])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_a_fresh_repo_is_up_to_date(repo, capsys):
    code, out, err = run_check(repo, capsys)

    assert (code, out, err) == (0, ["up to date (template 1.0.0)"], "")


@pytest.mark.parametrize("path", [MAIN_TF, "README.md", ".gitlab-ci.yml"])
def test_committed_conflict_markers_fail_check(repo, capsys, path):
    file = repo / path
    file.write_text(
        file.read_text() + ("locals {\n" + CONFLICT + "}\n" if path.endswith(".tf") else CONFLICT)
    )
    commit(repo, "merged without looking")

    code, out, _ = run_check(repo, capsys)

    assert code == 1
    assert f"needs fixing: conflict markers: {path}" in out
    assert not any(line.startswith("up to date") for line in out)


def test_terraform_that_is_not_fmt_clean_fails_check(repo, capsys):
    file = repo / MAIN_TF
    file.write_text(file.read_text() + "\nlocals {\n  a     = 1\n  bb = 2\n}\n")
    commit(repo, "hand-written, unformatted")

    code, out, _ = run_check(repo, capsys)

    assert code == 1
    assert out[:2] == [
        f"needs fixing: not terraform fmt-clean: {MAIN_TF}",
        "resolve the <<<<<<< markers, run `terraform fmt -recursive`, and commit the result",
    ]


def test_terraform_that_does_not_parse_fails_check(repo, capsys):
    (repo / "deploy/terraform/extra.tf").write_text('resource "x" {\n')
    commit(repo, "half a resource")

    code, out, _ = run_check(repo, capsys)

    assert code == 1
    assert "needs fixing: not valid Terraform: deploy/terraform/extra.tf" in out


def test_without_terraform_formatting_is_a_note_not_a_verdict(repo, capsys, monkeypatch):
    monkeypatch.setenv("TERRAFORM", str(repo / "no-terraform-here"))

    code, out, _ = run_check(repo, capsys)

    assert code == 0
    assert out == [
        "up to date (template 1.0.0)",
        "note: terraform is not on PATH: the formatting of the Terraform files was not checked",
    ]


@pytest.mark.parametrize(
    ("commit_line", "code", "words"),
    [
        ("_commit: 12345", 2, "_commit: expected the template's git version (a string), found integer 12345"),
        ("_commit: null", 2, "_commit: expected the template's git version (a string), found none"),
        ("_commit: v9.9.9", 2, "template version v9.9.9: no such tag, branch or commit in git+file://"),
    ],
    ids=["integer", "null", "unknown-tag"],
)
@pytest.mark.parametrize("command", ["check", "sync"])
def test_broken_answers_are_one_line_naming_the_users_file(repo, capsys, command, commit_line, code, words):
    answers = repo / ".copier-answers.yml"
    lines = answers.read_text().splitlines(keepends=True)
    answers.write_text("".join(commit_line + "\n" if line.startswith("_commit:") else line for line in lines))
    commit(repo, "edited the answers by hand")
    before = git(repo, "rev-parse", "HEAD")

    assert main([command, str(repo)]) == code
    captured = capsys.readouterr()

    assert captured.err.count("\n") == 1, captured.err
    assert words in captured.err
    assert "bluegreen-check." not in captured.err, "names a temporary clone"
    if "template version" not in words:
        assert captured.err.startswith(f"{repo}/.copier-answers.yml: _commit: ") or captured.err.startswith(
            f"{repo}/.copier-answers.yml: (document)"
        ), captured.err
    assert git(repo, "status", "--porcelain") == "" and git(repo, "rev-parse", "HEAD") == before


def test_answers_that_are_not_a_mapping(repo, capsys):
    (repo / ".copier-answers.yml").write_text("- just\n- a list\n")
    commit(repo, "broke the answers")

    assert main(["check", str(repo)]) == 2
    err = capsys.readouterr().err
    assert err == f"{repo}/.copier-answers.yml: (document): expected Copier's answers, found no mapping\n"
