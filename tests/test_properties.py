"""Properties of every spec, checked on generated ones (hypothesis, hypothesis-jsonschema).

- Any document schema/service.schema.json accepts either passes `bluegreen
  validate` and renders Terraform that `terraform validate` accepts in every
  environment root, or is rejected by a cross-field rule: exit 2, one located line
  per problem.
- Any other input (YAML values of any shape, valid specs with a value of the
  wrong type, an unknown key or a key less, random bytes) exits 2 with such lines,
  never with a traceback.

Documents come from a copy of the schema with smaller collections (at most
three environments; four tags, variables or secrets; two subnet tags) to keep each
example fast; the copy accepts nothing the schema rejects (each document is checked
against the real one). Most generated documents pass the cross-field rules, so the
rendering property assumes acceptance and keeps its sample small: every example
renders a repository and runs terraform in each root. The tests marked `slow` draw
many more examples (`pytest -m slow`).
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from bluegreen.cli import main
from bluegreen.loader import LoadedSpec, load_spec
from bluegreen.render import render_new
from bluegreen.schema import schema_problems, service_schema
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from tests.support.rendering import SPECS
from tests.support.terraform_tools import init_offline, require_terraform, validate_json

SETTINGS = {
    "deadline": None,
    # CI replays the same examples every run (no flaky discoveries there); local runs explore,
    # and hypothesis keeps what they find in .hypothesis/ to replay it.
    "derandomize": bool(os.environ.get("CI")),
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
}
FAST, THOROUGH = 100, 1000  # examples of the quick properties, default and slow run
RENDERED, RENDERED_THOROUGH = 6, 60  # examples that render and run terraform validate


def bounded_schema() -> dict[str, Any]:
    """The schema with small collections: every document it accepts, the real schema accepts."""
    schema = copy.deepcopy(service_schema())
    defs = schema["$defs"]
    schema["properties"]["environments"]["maxProperties"] = 3
    defs["tags"]["maxProperties"] = 4
    defs["subnetTags"]["maxProperties"] = 2
    for variables in ("environment", "secrets"):
        defs["app"]["properties"][variables]["maxProperties"] = 4
    return schema


def well_formed_rejection(source: str, stderr: str) -> list[str]:
    """The lines of a rejection, each `SOURCE[:LINE:COL]: field: expected ..., found ...` and printable."""
    lines = stderr.removesuffix("\n").split("\n")
    assert stderr and lines, "a rejection says why"
    line_format = re.compile(rf"{re.escape(source)}(:\d+:\d+)?: .+: expected .+, found .+")
    for line in lines:
        assert line.isprintable() and line_format.fullmatch(line), f"not a one-line problem: {line!r}"
    return lines


def run_validate(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`bluegreen validate PATH`: exit status and stderr; any exception fails the test with its traceback."""
    capsys.readouterr()
    try:
        status = main(["validate", str(path)])
    except BaseException:  # a traceback is the one thing the command must never print
        pytest.fail(f"bluegreen validate raised:\n{traceback.format_exc()}\ninput:\n{path.read_bytes()!r}")
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return status, captured.err


def validate_schema_valid_spec(
    data: dict[str, Any], workdir: Path, capsys: pytest.CaptureFixture[str]
) -> Path | None:
    """The spec file of an accepted document; None when a cross-field rule rejected it (in located lines)."""
    spec = workdir / "service.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    assert schema_problems(load_spec(spec)) == [], "the schema bluegreen checks is the published one"
    status, stderr = run_validate(spec, capsys)
    if status == 2:
        event("rejected by a cross-field rule")
        well_formed_rejection(str(spec), stderr)
        return None
    assert status == 0, stderr
    event("accepted")
    return spec


def check_renders_valid_terraform(spec: Path) -> None:
    """`bluegreen new`, then `terraform init` + `validate` of every environment root: no error, no warning."""
    repo = render_new(spec, spec.parent / "repo")
    roots = sorted((repo / "deploy" / "terraform" / "environments").iterdir())
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(_init_and_validate, roots))
    for root, result in zip(roots, results, strict=True):
        problems = [f"{d['severity']}: {d['summary']}: {d.get('detail', '')}" for d in result["diagnostics"]]
        assert result["valid"] and not problems, (
            f"{root.name}:\n" + "\n".join(problems) + f"\n{spec.read_text()}"
        )


def _init_and_validate(root: Path) -> dict[str, Any]:
    init_offline(root)
    return validate_json(root)


def check_rejected(content: bytes, capsys: pytest.CaptureFixture[str], *, may_pass: bool = False) -> None:
    """Exit 2 with well-formed lines (or 0, when `may_pass`), never a traceback."""
    with tempfile.TemporaryDirectory(prefix="bluegreen-garbage-") as workdir:
        spec = Path(workdir) / "service.yaml"
        spec.write_bytes(content)
        status, stderr = run_validate(spec, capsys)
        if may_pass and status == 0:
            return
        assert status == 2, f"exit {status}:\n{stderr}"
        well_formed_rejection(str(spec), stderr)


# Any schema-valid document ---------------------------------------------------------------------------------


# hypothesis-jsonschema knows draft 7: it ignores the 2020-12 keywords (dependentSchemas, keywords
# beside $ref), and reads patterns the Python way (`$` before a final newline, Unicode `\w`), so
# bluegreen's schema check has the last word: the real schema read the JSON Schema way (ECMA-262
# patterns), and printable one-line strings (tests/test_pattern_properties.py).
SPECS_THE_SCHEMA_ACCEPTS = from_schema(bounded_schema()).filter(
    lambda data: not schema_problems(LoadedSpec("generated", data))
)
# Strings YAML reads as something else (`on` is true, `a: b` a mapping). A control character
# such as `\a` (an error to Copier) is refused by validate: tests/test_hostile_inputs.py.
YAML_LOOKALIKES = {
    "schema_version": 1,
    "name": "on",
    "description": "Payments: cards",
    "owner": "yes",
    "aws": {"region": "eu-west-1"},
    "app": {"runtime": "go", "port": 8080},
}


def _validates_or_is_rejected(data: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="bluegreen-property-") as workdir:
        validate_schema_valid_spec(data, Path(workdir), capsys)


def _renders_when_accepted(data: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    require_terraform()
    with tempfile.TemporaryDirectory(prefix="bluegreen-property-") as workdir:
        spec = validate_schema_valid_spec(data, Path(workdir), capsys)
        assume(spec is not None)
        check_renders_valid_terraform(spec)


@settings(max_examples=FAST, **SETTINGS)
@given(SPECS_THE_SCHEMA_ACCEPTS)
def test_schema_valid_specs_are_accepted_or_rejected_by_a_rule(capsys, data):
    _validates_or_is_rejected(data, capsys)


@pytest.mark.slow
@settings(max_examples=THOROUGH, **SETTINGS)
@given(SPECS_THE_SCHEMA_ACCEPTS)
def test_schema_valid_specs_are_accepted_or_rejected_by_a_rule_thoroughly(capsys, data):
    _validates_or_is_rejected(data, capsys)


@pytest.mark.terraform
@settings(max_examples=RENDERED, **SETTINGS)
@given(SPECS_THE_SCHEMA_ACCEPTS)
@example(YAML_LOOKALIKES)
def test_accepted_specs_render_terraform_that_validates(capsys, data):
    _renders_when_accepted(data, capsys)


@pytest.mark.slow
@pytest.mark.terraform
@settings(max_examples=RENDERED_THOROUGH, **SETTINGS)
@given(SPECS_THE_SCHEMA_ACCEPTS)
def test_accepted_specs_render_terraform_that_validates_thoroughly(capsys, data):
    _renders_when_accepted(data, capsys)


# Anything else ---------------------------------------------------------------------------------------------

KEYS = st.text(max_size=20)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=12,
)
VALID_DOCUMENTS = [yaml.safe_load(spec.read_text()) for spec in SPECS]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a document: mapping keys and list indexes."""
    children = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    )
    return [path] + [p for key, child in children for p in _paths(child, (*path, key))]


def _mutated(document: Any, path: tuple[Any, ...], change: Callable[[Any, Any], Any]) -> Any:
    """A copy of `document` whose value at `path` is `change(parent, key)`'s doing."""
    result = copy.deepcopy(document)
    parent = result
    for key in path[:-1]:
        parent = parent[key]
    change(parent, path[-1])
    return result


@st.composite
def mutated_specs(draw: st.DrawFn) -> Any:
    """A valid spec with one value replaced by any other, one key added, or one key removed."""
    document = draw(st.sampled_from(VALID_DOCUMENTS))
    path = draw(st.sampled_from(_paths(document)[1:]))
    kind = draw(st.sampled_from(["replace", "add", "remove"]))
    if kind == "replace":
        value = draw(VALUES)
        return _mutated(document, path, lambda parent, key: parent.__setitem__(key, value))
    if kind == "add":
        mappings = [p for p in _paths(document) if isinstance(_get(document, p), dict)]
        where, key, value = draw(st.sampled_from(mappings)), draw(KEYS), draw(VALUES)
        result = copy.deepcopy(document)
        _get(result, where)[key] = value
        return result
    return _mutated(document, path, lambda parent, key: parent.pop(key))


def _get(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


def _check_mutated(document: Any, capsys: pytest.CaptureFixture[str]) -> None:
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    still_valid = jsonschema.Draft202012Validator(service_schema()).is_valid(document)
    check_rejected(text.encode(), capsys, may_pass=still_valid)


@settings(max_examples=FAST, **SETTINGS)
@given(VALUES)
def test_any_yaml_value_is_rejected_with_located_lines(capsys, value):
    check_rejected(yaml.safe_dump(value, allow_unicode=True).encode(), capsys)


@settings(max_examples=FAST, **SETTINGS)
@given(mutated_specs())
def test_mutated_specs_are_rejected_with_located_lines(capsys, document):
    _check_mutated(document, capsys)


@settings(max_examples=FAST, **SETTINGS)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_random_bytes_are_rejected_with_located_lines(capsys, content):
    check_rejected(content, capsys)


@pytest.mark.slow
@settings(max_examples=THOROUGH, **SETTINGS)
@given(VALUES | mutated_specs())
def test_garbage_is_rejected_with_located_lines_thoroughly(capsys, document):
    _check_mutated(document, capsys)
