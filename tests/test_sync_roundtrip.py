"""The everyday loop is boring: edit service.yaml, `bluegreen sync`, commit; or take a template release.

Copier's update (which `bluegreen sync` runs) renders a merge base from the recorded answers
(.copier-answers.yml) and carries the difference between that base and the repository onto
the new render. In a repository nobody edited by hand that difference must be empty: the
merge base has to be byte-identical to the committed files, whatever the spec (environments
in any order, values YAML would read as something else). Then:

- spec A rendered and committed, service.yaml replaced by any valid spec B of the same
  service, `bluegreen sync`: exit 0, no conflict markers, and the tree is exactly a fresh
  render of B (the answers file included), except the files that are the team's after the
  first render (copier.yml `_skip_if_exists`), which keep A's content; half the examples
  first edit the repository where no spec reaches (a README note, a file of the team's),
  and those edits come out unchanged;
- spec A rendered at template v1.0.0 and committed, `copier update` to a v2.0.0 that changes
  only template files, among them the lines of the environments table: exactly a fresh
  render of A at v2.0.0.

Specs come from tests/test_properties.py's strategy over the schema, kept when bluegreen's
cross-field rules accept them too. Spec B is A with some blocks taken from another
generated spec, its top-level keys and environments shuffled: one block changed, most of
them, or only an order. Every example renders three to five times, so the default run
draws a few dozen and the `slow` one many more (`pytest -m slow`).
"""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pathspec
import pytest
import yaml
from bluegreen.cli import main
from bluegreen.copier_extension import SPEC_KEYS, copier_data, recorded_answers
from bluegreen.errors import SpecError
from bluegreen.render import render_new
from bluegreen.schema import service_schema
from bluegreen.validate import validate_data
from copier import run_update
from hypothesis import example, given, settings
from hypothesis import strategies as st
from jinja2 import Environment

from tests.support.template_repo import PROJECT_ROOT, git, make_template_repo
from tests.support.template_repo import url as template_url
from tests.test_properties import SETTINGS, SPECS_THE_SCHEMA_ACCEPTS

SYNCED, SYNCED_THOROUGH = 24, 240  # examples of the sync property, default and slow run
RELEASED, RELEASED_THOROUGH = 12, 120  # examples of the template release property
MARKER = re.compile(rb"^(<{7}|={7}|>{7})( |$)", re.MULTILINE)
FULL = yaml.safe_load((PROJECT_ROOT / "tests/specs/full.yaml").read_text())

Tree = dict[str, bytes]


def accepted(data: dict[str, Any]) -> bool:
    """The cross-field rules accept `data` too (the schema already did)."""
    try:
        validate_data(data)
    except SpecError:
        return False
    return True


# The schema's strategy seldom lists several environments; these do, in any order (staging
# before production, production before dev...), each with or without overrides of the
# blocks that show per environment (the README's table, the pipeline's stages).
ENVIRONMENT_OVERRIDES = st.one_of(
    st.just({}),
    st.builds(
        lambda low, more: {"scaling": {"min": low, "max": low + more}}, st.integers(0, 3), st.integers(0, 3)
    ),
    st.sampled_from(
        [
            {"deployment": {"strategy": "all_at_once"}},
            {"deployment": {"strategy": "canary", "canary": {"percent": 10, "minutes": 5}}},
            {"deployment": {"strategy": "linear", "linear": {"percent": 25, "minutes": 3}}},
        ]
    ),
)
ENVIRONMENTS = st.dictionaries(
    st.sampled_from(["staging", "production", "dev", "qa", "perf"]),
    ENVIRONMENT_OVERRIDES,
    min_size=2,
    max_size=3,
)
SCHEMA = jsonschema.Draft202012Validator(service_schema())


def _with_environments(spec: dict[str, Any], environments: dict[str, Any] | None) -> dict[str, Any]:
    return spec if environments is None else {**spec, "environments": environments}


ACCEPTED_SPECS = (
    st.tuples(SPECS_THE_SCHEMA_ACCEPTS, st.none() | ENVIRONMENTS)
    .map(lambda drawn: _with_environments(*drawn))
    .filter(lambda spec: SCHEMA.is_valid(spec) and accepted(spec))
)


@st.composite
def spec_pairs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """(A, B): B is A with the blocks of `taken` from another spec, keys and environments
    shuffled, and A's name (the same service). Both accepted by schema and rules."""
    a = draw(ACCEPTED_SPECS)
    other = draw(ACCEPTED_SPECS)
    differing = [key for key in SPEC_KEYS if key != "name" and a.get(key) != other.get(key)]
    taken = draw(st.sets(st.sampled_from(differing), min_size=1)) if differing else set()
    mixed = {key: (other if key in taken else a).get(key) for key in SPEC_KEYS}
    mixed = {key: value for key, value in mixed.items() if value is not None}
    if draw(st.booleans()) and isinstance(mixed.get("environments"), dict):
        names = draw(st.permutations(list(mixed["environments"])))
        mixed["environments"] = {name: mixed["environments"][name] for name in names}
    order = draw(st.permutations(list(mixed)))
    b = {key: mixed[key] for key in order}
    if not accepted(b):  # a mix can break a cross-field rule (or the schema's dependencies)
        b = a
    return a, b


def with_environments(spec: dict[str, Any], **changes: dict[str, Any]) -> dict[str, Any]:
    """`spec` with environments[name] blocks replaced (staging stays listed before production)."""
    changed = yaml.safe_load(yaml.safe_dump(spec, sort_keys=False))
    for name, blocks in changes.items():
        changed["environments"][name].update(blocks)
    return changed


# The reports on a staging-then-production service: a scaling change in staging,
# a canary change in production, a new variable.
STAGING_SCALES = (FULL, with_environments(FULL, staging={"scaling": {"min": 2, "max": 4}}))
PRODUCTION_CANARY = (
    FULL,
    with_environments(
        FULL, production={"deployment": {"strategy": "canary", "canary": {"percent": 25, "minutes": 10}}}
    ),
)
NEW_VARIABLE = (FULL, {**FULL, "app": {**FULL["app"], "environment": {**FULL["app"]["environment"], "B": 1}}})


def tree(root: Path) -> Tree:
    """Every file under root but .git, as bytes."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def write_spec(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def generate(template: Path, spec: dict[str, Any], dest: Path, vcs_ref: str) -> Path:
    """`bluegreen new` of `spec` at `vcs_ref`, `git init`, a first commit."""
    render_new(
        write_spec(dest.parent / "spec-a.yaml", spec), dest, template=template_url(template), vcs_ref=vcs_ref
    )
    git(dest, "init", "-q", "-b", "main")
    commit(dest, "generated by bluegreen")
    return dest


def fresh_render(template: Path, spec: dict[str, Any], dest: Path, vcs_ref: str) -> Tree:
    spec_file = write_spec(dest.parent / f"{dest.name}.yaml", spec)
    return tree(render_new(spec_file, dest, template=template_url(template), vcs_ref=vcs_ref))


def conflicts(repo: Path) -> list[str]:
    """Files with conflict markers or rejected hunks, and paths git sees as unmerged."""
    marked = [name for name, content in tree(repo).items() if MARKER.search(content) or name.endswith(".rej")]
    return marked + git(repo, "diff", "--name-only", "--diff-filter=U").split()


def teams_after_first_render(spec: dict[str, Any]) -> pathspec.PathSpec:
    """copier.yml's `_skip_if_exists`, rendered with `spec` as Copier renders it."""
    patterns = yaml.safe_load((PROJECT_ROOT / "copier.yml").read_text())["_skip_if_exists"]
    context = copier_data({key: spec.get(key) for key in SPEC_KEYS})
    rendered = [Environment().from_string(pattern).render(context) for pattern in patterns]
    return pathspec.PathSpec.from_lines("gitignore", [line for line in rendered if line])


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    """A directory per example (hypothesis runs many examples in one test function)."""
    with tempfile.TemporaryDirectory(prefix="bluegreen-roundtrip-") as directory:
        yield Path(directory)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """This checkout as v1.0.0; v2.0.0 changes only template files, the environments table
    of the README (a line per environment, in the spec's order) and every Terraform root."""
    repo = make_template_repo(tmp_path_factory.mktemp("template") / "bluegreen")
    readme = repo / "template/README.md.jinja"
    row = "\n| {{ env.name }} | {{ env.region }} |"
    assert readme.read_text().count(row) == 1
    readme.write_text(
        readme.read_text()
        .replace(row, "\n| `{{ env.name }}` | {{ env.region }} |")
        .replace("## Environments\n", "## Environments\n\nIn the order they are deployed.\n")
    )
    (main_tf,) = (repo / "template/deploy/terraform/environments").glob("*/main.tf.jinja")
    main_tf.write_text("# Rendered by bluegreen template v2.\n" + main_tf.read_text())
    commit(repo, "v2: environments table, a note on each root")
    git(repo, "tag", "v2.0.0")
    return repo


# bluegreen sync


README_NOTE = b"\nOn call: #team-platform.\n"
OWN_FILE = "docs/runbook.md"


def team_edits(files: Tree) -> Tree:
    """Edits far from anything a spec changes: a note under the README's last line, a file of
    the team's own. Sync must carry them over as they are."""
    return {**files, "README.md": files["README.md"] + README_NOTE, OWN_FILE: b"# Runbook\n"}


def check_sync_is_a_fresh_render(template: Path, a: dict[str, Any], b: dict[str, Any], edited: bool) -> None:
    with scratch() as work:
        repo = generate(template, a, work / "repo", vcs_ref="v1.0.0")
        if edited:
            for path, content in team_edits(tree(repo)).items():
                (repo / path).parent.mkdir(parents=True, exist_ok=True)
                (repo / path).write_bytes(content)
            commit(repo, "our edits")
        before = tree(repo)
        write_spec(repo / "service.yaml", b)
        commit(repo, "service.yaml: spec B")

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["sync", str(repo)])

        assert (status, err.getvalue()) == (0, ""), out.getvalue()
        assert conflicts(repo) == []
        expected = fresh_render(template, b, work / "fresh", vcs_ref="v1.0.0")
        if edited:
            expected = team_edits(expected)
        # service.yaml is the input, committed as B; the team's other files keep A's render.
        kept = teams_after_first_render(b)
        expected.update(
            {path: before[path] for path in expected if path in before and kept.match_file(path)},
            **{"service.yaml": expected["service.yaml"]},
        )
        assert tree(repo) == expected
        # What sync reported changed is what changed.
        changed = {
            path for path in before.keys() | expected.keys() if before.get(path) != expected.get(path)
        } - {"service.yaml"}
        assert set(re.findall(r"^changed: (.+)$", out.getvalue(), re.MULTILINE)) == changed


@settings(max_examples=SYNCED, **SETTINGS)
@given(spec_pairs(), st.booleans())
@example(STAGING_SCALES, False)
@example(PRODUCTION_CANARY, False)
@example(NEW_VARIABLE, True)
def test_sync_is_a_fresh_render_of_the_new_spec_with_the_teams_edits(template, pair, edited):
    check_sync_is_a_fresh_render(template, *pair, edited)


@pytest.mark.slow
@settings(max_examples=SYNCED_THOROUGH, **SETTINGS)
@given(spec_pairs(), st.booleans())
def test_sync_is_a_fresh_render_of_the_new_spec_with_the_teams_edits_thoroughly(template, pair, edited):
    check_sync_is_a_fresh_render(template, *pair, edited)


# copier update to a template release


def check_update_is_a_fresh_render(template: Path, spec: dict[str, Any]) -> None:
    with scratch() as work:
        repo = generate(template, spec, work / "repo", vcs_ref="v1.0.0")

        run_update(str(repo), defaults=True, overwrite=True, unsafe=True, quiet=True)

        assert conflicts(repo) == []
        assert tree(repo) == fresh_render(template, spec, work / "fresh", vcs_ref="v2.0.0")


@settings(max_examples=RELEASED, **SETTINGS)
@given(ACCEPTED_SPECS)
@example(FULL)
def test_update_of_an_unedited_repo_is_a_fresh_render_of_the_release(template, spec):
    check_update_is_a_fresh_render(template, spec)


@pytest.mark.slow
@settings(max_examples=RELEASED_THOROUGH, **SETTINGS)
@given(ACCEPTED_SPECS)
def test_update_of_an_unedited_repo_is_a_fresh_render_of_the_release_thoroughly(template, spec):
    check_update_is_a_fresh_render(template, spec)


# What makes the merge base identical: the record keeps the spec, and the order of a mapping counts


def test_the_record_keeps_the_specs_order_in_one_canonical_layout():
    answers = {
        "_src_path": "git+https://example.com/t.git",
        "_commit": "v1.0.0",
        "environments": {"staging": {"scaling": {"max": 2, "min": 1}}, "production": {}},
        "name": "demo",
        "schema_version": 1,
        "app": {"runtime": "go", "port": 8080},
    }

    text = recorded_answers(answers, "https://example.com/t.git")

    assert text == (
        "_commit: v1.0.0\n_src_path: git+https://example.com/t.git\nschema_version: 1\nname: demo\n"
        "app:\n  runtime: go\n  port: 8080\n"
        "environments:\n  staging:\n    scaling:\n      max: 2\n      min: 1\n  production: {}\n"
    )
    # Copier gathers the answers in another order on an update: the same bytes.
    shuffled = dict(reversed(list(answers.items())))
    assert recorded_answers(shuffled, "https://example.com/t.git") == text


def test_specs_differing_only_in_environment_order_render_differently_in_one_process(tmp_path):
    """The hook caches the model per spec; the order of the environments is part of the key."""
    swapped = {**FULL, "environments": dict(reversed(list(FULL["environments"].items())))}
    first = render_new(write_spec(tmp_path / "first.yaml", FULL), tmp_path / "first")
    second = render_new(write_spec(tmp_path / "second.yaml", swapped), tmp_path / "second")

    def rows(repo: Path) -> list[str]:
        return re.findall(r"^\| (staging|production) \|", (repo / "README.md").read_text(), re.MULTILINE)

    assert rows(first) == ["staging", "production"]
    assert rows(second) == ["production", "staging"]
