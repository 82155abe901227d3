"""Any string a schema pattern accepts renders a repository whose files still parse.

For each string field of the schema (its `pattern` read the JSON Schema way, through
bluegreen.schema.ecma_regex, so hypothesis draws what the schema accepts and nothing
more), and for the free-text fields without one (any printable text), a drawn value is
put into a small valid spec. When the spec is accepted, the rendered repository must
still parse: every YAML file (yaml.safe_load), all Terraform (`terraform fmt -check`:
it parses and is as fmt writes it), deploy/execute.sh (shellcheck), every Python file
(compile) and every JSON file; and the value must arrive intact: in Copier's answers
file exactly, and in at least one generated file, written as is or escaped for HCL,
JSON or YAML.
"""

from __future__ import annotations

import copy
import json
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from bluegreen.errors import SpecError
from bluegreen.hcl import hcl
from bluegreen.loader import LoadedSpec, load_spec
from bluegreen.render import render_new
from bluegreen.schema import ecma_regex, schema_problems, service_schema
from bluegreen.validate import validate
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.support.template_repo import PROJECT_ROOT
from tests.support.terraform_tools import require_terraform

BIN = Path(PROJECT_ROOT / ".venv/bin")
BASE: dict[str, Any] = {
    "schema_version": 1,
    "name": "orders",
    "aws": {"region": "eu-west-1"},
    "app": {"runtime": "python", "port": 8080},
}

Setter = Callable[[dict[str, Any], str], None]


def _at(*path: str) -> Setter:
    def set_value(spec: dict[str, Any], value: str) -> None:
        target = spec
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = value

    return set_value


def _with(extra: dict[str, Any], setter: Setter) -> Setter:
    def set_value(spec: dict[str, Any], value: str) -> None:
        for key, item in extra.items():
            spec.setdefault(key, {}).update(copy.deepcopy(item))
        setter(spec, value)

    return set_value


def _key(*path: str, value: Any = "x") -> Setter:
    def set_value(spec: dict[str, Any], key: str) -> None:
        target = spec
        for part in path:
            target = target.setdefault(part, {})
        target[key] = value

    return set_value


STATE = {"state": {"bucket": "tf-state", "lock_table": "tf-locks"}}
# id: (JSON pointer of the schema's pattern, or None for printable free text; where it goes)
FIELDS: dict[str, tuple[str | None, Setter]] = {
    "name": ("/properties/name/pattern", _at("name")),
    "owner": ("/properties/owner/pattern", _at("owner")),
    "description": (None, _at("description")),
    "environment-name": ("/properties/environments/propertyNames/pattern", _key("environments", value={})),
    "tag-key": ("/$defs/tags/propertyNames/pattern", _key("tags")),
    "tag-value": ("/$defs/tags/additionalProperties/pattern", _at("tags", "Team")),
    "region": ("/$defs/aws/properties/region/pattern", _at("aws", "region")),
    "account-id": ("/$defs/aws/properties/account_id/pattern", _at("aws", "account_id")),
    "vpc-id": ("/$defs/network/properties/vpc_id/pattern", _at("network", "vpc_id")),
    "vpc-tag-key": (None, _at("network", "vpc_tag_key")),
    "dns-zone": ("/$defs/dns/properties/zone/pattern", _at("dns", "zone")),
    "dns-record": (
        "/$defs/dns/properties/record/pattern",
        _with({"dns": {"zone": "example.com"}}, _at("dns", "record")),
    ),
    "health-check-path": ("/$defs/app/properties/health_check_path/pattern", _at("app", "health_check_path")),
    "env-var-name": ("/$defs/envVarName/pattern", _key("app", "environment", value="1")),
    "env-var-value": (None, _at("app", "environment", "SETTING")),
    "command-item": (None, lambda spec, value: spec["app"].__setitem__("command", ["python", value])),
    "secret-arn": (
        "/$defs/app/properties/secrets/additionalProperties/pattern",
        _at("app", "secrets", "TOKEN"),
    ),
    "cidr": (
        "/$defs/cidr/pattern",
        lambda spec, value: spec.setdefault("deployment", {}).__setitem__("test_listener_cidrs", [value]),
    ),
    "access-logs-bucket": (
        "/$defs/alb/properties/access_logs_bucket/pattern",
        _at("alb", "access_logs_bucket"),
    ),
    "role-arn": ("/$defs/ci/properties/role_arn/pattern", _at("ci", "role_arn")),
    "deploy-branch": ("/$defs/ci/properties/deploy_branch/pattern", _at("ci", "deploy_branch")),
    "bluegreen-package": ("/$defs/ci/properties/bluegreen_package/pattern", _at("ci", "bluegreen_package")),
    "pip-index-url": ("/$defs/ci/properties/pip_index_url/pattern", _at("ci", "pip_index_url")),
    "state-bucket": ("/$defs/state/properties/bucket/pattern", _with(STATE, _at("state", "bucket"))),
    "state-key-prefix": (
        "/$defs/state/properties/key_prefix/pattern",
        _with(STATE, _at("state", "key_prefix")),
    ),
    "state-lock-table": (
        "/$defs/state/properties/lock_table/pattern",
        _with(STATE, _at("state", "lock_table")),
    ),
    "state-region": ("/$defs/state/properties/region/pattern", _with(STATE, _at("state", "region"))),
}


def _pattern(pointer: str) -> str:
    node: Any = service_schema()
    for part in pointer.removeprefix("/").split("/"):
        node = node[part]
    return node


def _values(field: str) -> st.SearchStrategy[str]:
    pointer, _ = FIELDS[field]
    if pointer is None:
        return st.text(st.characters(codec="utf-8"), min_size=1, max_size=60)
    return st.from_regex(ecma_regex(_pattern(pointer)), fullmatch=True)


def _spec(field: str, value: str) -> dict[str, Any]:
    spec = copy.deepcopy(BASE)
    FIELDS[field][1](spec, value)
    return spec


# A field with a value the schema accepts (its pattern, its length limits, printable text).
CASES = (
    st.sampled_from(sorted(FIELDS))
    .flatmap(lambda field: st.tuples(st.just(field), _values(field)))
    .filter(lambda case: not schema_problems(LoadedSpec("drawn", _spec(*case))))
)

# Values that have broken generated files before, or that are special in one of them.
TRICKY = [
    ("pip-index-url", "https://pypi.example.com/${CI_JOB_TOKEN}/simple?x=1&y=%{z};#frag"),
    ("health-check-path", "/health/'$(id)'&x=1;:@~%20*+,="),
    ("bluegreen-package", "bluegreen[extra] >=1.0, <2 ,!=1.5.*"),
    ("owner", "team: platform = @ops / +1"),
    ("tag-value", ""),
    (
        "description",
        'A "quoted" ${var} and %{ if } {{ jinja }} {% raw %} `tick` \\ backslash\nsecond line: yes',
    ),
    ("env-var-value", "${HOME} $(id) `id` 'single' \"double\" \\n # not a comment: on"),
    ("command-item", "--flag=${X}'\"`"),
    ("deploy-branch", "release/1.0-rc_2.-/x_"),  # git refuses a trailing '/' (tests/test_aws_refusals.py)
    ("state-key-prefix", "team.a/svc-1/_x"),
    ("vpc-tag-key", 'Name = "x" # }'),
]


class _GitLabLoader(yaml.SafeLoader):
    """YAML with GitLab's `!reference [job, key]` tags read as the plain lists they are written as."""


_GitLabLoader.add_constructor("!reference", lambda loader, node: loader.construct_sequence(node))


def _files(repo: Path) -> dict[str, str]:
    return {
        str(p.relative_to(repo)): p.read_text(encoding="utf-8")
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


def _contains(node: Any, value: str) -> bool:
    if isinstance(node, dict):
        return any(key == value or _contains(item, value) for key, item in node.items())
    if isinstance(node, list):
        return any(_contains(item, value) for item in node)
    return node == value


def _written_forms(value: str) -> set[str]:
    """The value as a generated file may spell it: as is, or escaped for HCL, JSON, YAML."""
    forms = {value, hcl(value)[1:-1], json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    forms.add(yaml.safe_dump(value, allow_unicode=True, width=10_000).removesuffix("\n...\n").strip())
    return {form for form in forms if form}


def check_rendered(field: str, value: str, workdir: Path) -> None:
    spec_file = workdir / "service.yaml"
    spec_file.write_text(
        yaml.safe_dump(_spec(field, value), sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    loaded = load_spec(spec_file)
    assert loaded.data == _spec(field, value), "the YAML round trip keeps the value"
    try:
        validate(loaded)
    except SpecError:
        assume(False)  # a cross-field rule (a derived name too long, a host address as CIDR...)
    repo = render_new(spec_file, workdir / "repo")
    files = _files(repo)

    scalars: list[str] = []  # every string of every parsed YAML file
    for path, text in files.items():
        if path.endswith((".yml", ".yaml")):
            _strings(yaml.load(text, Loader=_GitLabLoader), scalars)
        elif path.endswith(".py"):
            compile(text, path, "exec")
        elif path.endswith(".json"):
            json.loads(text)
    fmt = subprocess.run(
        [require_terraform()[0], "fmt", "-check", "-recursive", "-no-color", str(repo)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert fmt.returncode == 0, f"terraform fmt: {fmt.stdout}{fmt.stderr}"
    shell = subprocess.run(
        [str(BIN / "shellcheck"), "--severity=style", str(repo / "deploy/execute.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert shell.returncode == 0, shell.stdout

    answers = yaml.safe_load(files[".copier-answers.yml"])
    assert _contains(answers, value), f"{value!r} not in the answers file"
    generated = {
        path: text for path, text in files.items() if path not in ("service.yaml", ".copier-answers.yml")
    }
    forms = _written_forms(value)
    assert (
        not value  # an empty tag value: nothing to look for
        or any(form in text for text in generated.values() for form in forms)
        or any(value in scalar for scalar in scalars)  # Jinja's tojson writes < > & ' as \\u escapes
    ), f"{value!r} in no generated file"


def _strings(node: Any, found: list[str]) -> None:
    if isinstance(node, dict):
        for key, item in node.items():
            _strings(key, found)
            _strings(item, found)
    elif isinstance(node, list):
        for item in node:
            _strings(item, found)
    elif isinstance(node, str):
        found.append(node)


SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.terraform
@SETTINGS
@given(CASES)
def test_accepted_values_render_files_that_parse(case):
    with tempfile.TemporaryDirectory(prefix="bluegreen-pattern-") as workdir:
        check_rendered(*case, Path(workdir))


@pytest.mark.terraform
@pytest.mark.parametrize(
    ("field", "value"), TRICKY, ids=[f"{field}-{i}" for i, (field, _) in enumerate(TRICKY)]
)
def test_tricky_values_render_files_that_parse(field, value, tmp_path):
    assert not schema_problems(LoadedSpec("tricky", _spec(field, value))), "the schema accepts it"
    check_rendered(field, value, tmp_path)


@pytest.mark.slow
@pytest.mark.terraform
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(CASES)
def test_accepted_values_render_files_that_parse_thoroughly(case):
    with tempfile.TemporaryDirectory(prefix="bluegreen-pattern-") as workdir:
        check_rendered(*case, Path(workdir))


def test_every_pattern_of_the_schema_is_drawn_from():
    """A pattern added to the schema gets a place in FIELDS."""

    def pointers(node: Any, at: str) -> set[str]:
        if isinstance(node, dict):
            found = {f"{at}/pattern"} if isinstance(node.get("pattern"), str) else set()
            return found.union(*(pointers(v, f"{at}/{k}") for k, v in node.items()))
        return set()

    covered = {pointer for pointer, _ in FIELDS.values() if pointer}
    missing = pointers(service_schema(), "") - covered
    assert missing == set()


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("^[a-z]+$", "staging", True),
        ("^[a-z]+$", "staging\n", False),  # Python's `$` matches before a final newline
        ("^[a-z]+$", "stag\ning", False),
        (r"^[\w.-]+$", "main", True),
        (r"^[\w.-]+$", "maïn", False),  # ECMA-262 `\w` is ASCII
        (r"^\d+$", "\u0663", False),  # so is `\d`
        ("^[$]x$", "$x", True),  # a `$` inside a class stays a dollar sign
        (r"^a\$$", "a$", True),  # and so does an escaped one
        ("^https://[a-z${}]+$", "https://${x}", True),
        ("[a-z]", "1a1", True),  # unanchored patterns match within the string, as in JSON Schema
    ],
)
def test_patterns_mean_what_json_schema_says(pattern, text, matches):
    assert (ecma_regex(pattern).search(text) is not None) == matches


def test_the_published_schema_read_the_json_schema_way_refuses_a_trailing_newline():
    """The schema bluegreen checks before its own rules, independent of the printable-text rule."""
    from bluegreen.schema import schema_validator

    assert schema_validator().is_valid(BASE)
    for field, value in [("name", "orders\n"), ("region", "eu-west-1\n"), ("deploy-branch", "main\n")]:
        assert not schema_validator().is_valid(_spec(field, value)), field
    assert not schema_validator().is_valid({**BASE, "app": {"runtime": "python", "port": 8080.0}})
