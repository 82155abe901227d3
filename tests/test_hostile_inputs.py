"""Inputs a careless or hostile user writes: each gets one line, exit 2, no traceback, nothing written.

Grown from the tries of issue 13: trailing newlines and control characters in values that
reach file names, HCL, YAML, shell and Python; whole-number floats in integer fields; YAML
1.1's booleans and numbers; alias bombs, recursive aliases, deep nesting, huge files;
broken answers files, unknown template versions, unreachable templates, missing git.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bluegreen.cli import main
from bluegreen.loader import MAX_BYTES, MAX_DEPTH, MAX_NODES

HEAD = """\
schema_version: 1
name: orders
aws:
  region: us-west-2
app:
  runtime: python
  port: 8080
"""  # lines 1-7; cases append from line 8 on

ONE_LINE = re.compile(
    r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<path>\S+): expected .+, found .+$"
)


def app(extra: str) -> str:
    """HEAD with more lines under `app:` (from line 8)."""
    return HEAD + extra


def env(name: str) -> str:
    return HEAD + f"environments:\n  {name}: {{}}\n"


CASES = [
    # id, text, line, field path, words in the line
    # Trailing newlines and control characters: the patterns match whole strings.
    ("name-trailing-newline", HEAD.replace("name: orders", 'name: "orders\\n"'), 2, "name", "lowercase"),
    ("name-crlf", HEAD.replace("name: orders", 'name: "orders\\r\\n"'), 2, "name", "lowercase"),
    (
        "region-trailing-newline",
        HEAD.replace("region: us-west-2", 'region: "us-west-2\\n"'),
        4,
        "aws.region",
        "",
    ),
    (
        "environment-name-newline",
        HEAD + 'environments:\n  "staging\\n": {}\n',
        9,
        "environments['staging\\n']",
        "",
    ),
    ("tag-key-newline", HEAD + 'tags:\n  "Team\\n": x\n', 9, "tags['Team\\n']", "tag key"),
    ("tag-value-newline", HEAD + 'tags:\n  Team: "x\\n"\n', 9, "tags.Team", "tag value"),
    ("owner-newline", HEAD + 'owner: "me\\n"\n', 8, "owner", ""),
    ("branch-newline", HEAD + 'ci:\n  deploy_branch: "main\\n"\n', 9, "ci.deploy_branch", ""),
    ("zone-newline", HEAD + 'dns:\n  zone: "example.com\\n"\n', 9, "dns.zone", ""),
    ("record-newline", HEAD + 'dns:\n  zone: example.com\n  record: "www\\n"\n', 10, "dns.record", ""),
    (
        "state-bucket-newline",
        HEAD + 'state:\n  bucket: "tf-state\\n"\n  lock_table: locks\n',
        9,
        "state.bucket",
        "",
    ),
    (
        "state-prefix-newline",
        HEAD + 'state:\n  bucket: tf-state\n  lock_table: locks\n  key_prefix: "svc\\n"\n',
        11,
        "state.key_prefix",
        "",
    ),
    ("health-path-newline", app('  health_check_path: "/health\\n"\n'), 8, "app.health_check_path", ""),
    (
        "env-var-name-newline",
        app('  environment:\n    "DEBUG\\n": "1"\n'),
        9,
        "app.environment['DEBUG\\n']",
        "",
    ),
    (
        "env-value-newline",
        app('  environment:\n    DEBUG: "1\\nrm -rf /"\n'),
        9,
        "app.environment.DEBUG",
        "U+000A",
    ),
    ("command-newline", app('  command: ["python", "app.py\\n"]\n'), 8, "app.command[1]", "U+000A"),
    ("vpc-tag-key-tab", HEAD + 'network:\n  vpc_tag_key: "Demo\\t"\n', 9, "network.vpc_tag_key", "U+0009"),
    ("description-escape", HEAD + 'description: "ok\\e[31m"\n', 8, "description", "U+001B"),
    ("description-bidi", HEAD + 'description: "safe \\u202e txet"\n', 8, "description", "U+202E"),
    ("owner-zero-width", HEAD + 'owner: "te\\u200bam"\n', 8, "owner", "tag value"),
    ("name-unicode-digit", HEAD.replace("name: orders", "name: orders\u0663"), 2, "name", "lowercase"),
    (
        "pip-url-newline",
        HEAD + 'ci:\n  pip_index_url: "https://pypi.example.com/simple\\n"\n',
        9,
        "ci.pip_index_url",
        "",
    ),
    # Integers are integers.
    (
        "port-whole-float",
        HEAD.replace("port: 8080", "port: 8080.0"),
        7,
        "app.port",
        "an integer, found float 8080.0",
    ),
    ("cpu-whole-float", HEAD + "compute:\n  cpu: 256.0\n", 9, "compute.cpu", "float 256.0"),
    ("memory-whole-float", HEAD + "compute:\n  memory: 512.0\n", 9, "compute.memory", "an integer"),
    ("scaling-min-float", HEAD + "scaling:\n  min: 1.0\n", 9, "scaling.min", "an integer"),
    (
        "override-port-float",
        HEAD + "environments:\n  staging:\n    app: {port: 9000.0}\n",
        10,
        "environments.staging.app.port",
        "an integer",
    ),
    (
        "schema-version-float",
        HEAD.replace("schema_version: 1", "schema_version: 1.0"),
        1,
        "schema_version",
        "float 1.0",
    ),
    (
        "override-cpu-float",
        HEAD + "environments:\n  staging:\n    compute: {cpu: 512.0, memory: 1024}\n",
        10,
        "environments.staging.compute.cpu",
        "float 512.0",
    ),
    (
        "override-env-value-on",
        HEAD + "environments:\n  staging:\n    app:\n      environment: {DEBUG: on}\n",
        11,
        "environments.staging.app.environment.DEBUG",
        "'on' quoted for a string",
    ),
    # YAML 1.1 surprises: rejected with a hint.
    (
        "env-value-on",
        app("  environment:\n    DEBUG: on\n"),
        9,
        "app.environment.DEBUG",
        "'on' quoted for a string",
    ),
    (
        "env-value-yes",
        app("  environment:\n    VERBOSE: yes\n"),
        9,
        "app.environment.VERBOSE",
        "reads yes as true",
    ),
    ("tag-value-off", HEAD + "tags:\n  Public: off\n", 9, "tags.Public", "reads off as false"),
    ("spot-yes", HEAD + "compute:\n  spot: yes\n", 9, "compute.spot", "true or false"),
    ("port-octal", HEAD.replace("port: 8080", "port: 0755"), 7, "app.port", "reads 0755 as 493"),
    ("port-underscore", HEAD.replace("port: 8080", "port: 8_080"), 7, "app.port", "reads 8_080 as 8080"),
    ("port-sexagesimal", HEAD.replace("port: 8080", "port: 1:30"), 7, "app.port", "reads 1:30 as 90"),
    ("port-hex", HEAD.replace("port: 8080", "port: 0x1F90"), 7, "app.port", "reads 0x1F90 as 8080"),
    ("port-huge", HEAD.replace("port: 8080", "port: " + "9" * 5000), 7, "app.port", "at most 18 digits"),
    (
        "percent-nan",
        HEAD + "deployment:\n  alarms:\n    http_5xx_percent: .nan\n",
        10,
        "deployment.alarms.http_5xx_percent",
        "special number",
    ),
    (
        "percent-infinite",
        HEAD + "deployment:\n  alarms:\n    http_5xx_percent: 1.0e+999\n",
        10,
        "deployment.alarms.http_5xx_percent",
        "a finite number",
    ),
    ("key-on", HEAD + "on: true\n", 8, "(document)", "reads on as true"),
    # Keys: `true` and `1` are different keys (both rejected as keys, neither as a duplicate).
    ("true-key", HEAD + "true: x\n", 8, "(document)", "string keys, found key true"),
    (
        "duplicate-merge-key",
        HEAD + "x: &a {a: 1}\ny: &b {b: 2}\nz:\n  <<: *a\n  <<: *b\n",
        12,
        "z.<<",
        "each key once",
    ),
    ("list-as-key", HEAD + "? [a, b]\n: 1\n", 8, "(document)", "string keys"),
    ("binary-tag", HEAD.replace("name: orders", "name: !!binary b3JkZXJz"), 2, "name", "the tag !!binary"),
    ("set-tag", HEAD + "tags: !!set {a, b}\n", 8, "tags", "the tag !!set"),
    (
        "python-object",
        HEAD.replace("name: orders", "name: !!python/object/apply:os.system [id]"),
        2,
        "name",
        "the tag",
    ),
    # Limits of the loader.
    ("recursive-sequence", HEAD + "x: &a [1, *a]\n", 8, "(document)", "recursive alias *a"),
    ("recursive-mapping", HEAD + "x: &a {b: *a}\n", 8, "(document)", "recursive alias *a"),
    ("recursive-merge", HEAD + "x: &a\n  <<: *a\n", 9, "(document)", "recursive alias *a"),
    (
        "deep-flow",
        HEAD + "x: " + "[" * 500 + "]" * 500 + "\n",
        8,
        "(document)",
        f"at most {MAX_DEPTH} levels",
    ),
    (
        "deep-block",
        HEAD + "x:\n" + "".join("  " * i + "- \n" for i in range(1, 300)),
        8 + MAX_DEPTH,  # where the nesting crosses the limit
        "(document)",
        f"at most {MAX_DEPTH} levels",
    ),
    (
        "deep-through-aliases",
        HEAD + "a: &a " + "[" * 30 + "1" + "]" * 30 + "\nb: &b " + "[" * 29 + "*a" + "]" * 29 + "\n",
        8,  # at the anchor: the shared node is where the depth runs out
        "b" + "[0]" * (MAX_DEPTH - 1),
        f"at most {MAX_DEPTH} levels",
    ),
]


def bomb(levels: int, width: int = 9) -> str:
    """The 'billion laughs': each level a list of `width` aliases of the level below."""
    lines = ["a0: &a0 [lol]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return HEAD + "tags:\n" + "".join(f"  {line}\n" for line in lines)


def run_new(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], Path]:
    file = tmp_path / "service.yaml"
    file.write_text(text, encoding="utf-8")
    code = main(["new", str(file), str(tmp_path / "out" / "svc")])
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err.splitlines(), file


@pytest.mark.parametrize(("text", "line", "path", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_spec(tmp_path, capsys, text, line, path, words):
    code, lines, file = run_new(tmp_path, text, capsys)

    assert code == 2
    assert len(lines) == 1, lines
    match = ONE_LINE.match(lines[0])
    assert match, lines[0]
    assert (match["file"], int(match["line"]), match["path"]) == (str(file), line, path), lines[0]
    assert words in lines[0]
    assert "Traceback" not in lines[0]
    assert list(tmp_path.iterdir()) == [file], "nothing but the spec is left behind"


def test_true_and_1_are_different_keys(tmp_path, capsys):
    """Python's True == 1 once made `true:` a duplicate of `1:`: each is its own wrong key."""
    code, lines, file = run_new(tmp_path, HEAD + "1: a\ntrue: b\n", capsys)

    assert code == 2
    assert lines == [
        f"{file}:8:1: (document): expected string keys, found key integer 1",
        f"{file}:9:1: (document): expected string keys, found key true",
    ]


def test_at_least_40_hostile_cases():
    assert len(CASES) >= 40


def test_yaml_12_spellings_stay_accepted(tmp_path, capsys):
    """Only the YAML 1.1-only spellings are refused: true/false, decimal numbers and quoted
    strings work, a date stays the string it looks like, a multi-line description is fine."""
    text = (
        HEAD.replace("  port: 8080\n", '  port: 8080\n  environment:\n    DEBUG: "on"\n    LEVEL: 3\n')
        + "description: |\n  Orders service.\n  Second line.\ncompute:\n  spot: false\n"
        + "deployment:\n  alarms:\n    http_5xx_percent: 2.5\ntags:\n  Created: 2024-01-01\n"
    )
    file = tmp_path / "service.yaml"
    file.write_text(text)

    assert main(["validate", str(file)]) == 0, capsys.readouterr().err
    from bluegreen.loader import load_spec

    data = load_spec(file).data
    assert data["tags"]["Created"] == "2024-01-01"
    assert data["app"]["environment"] == {"DEBUG": "on", "LEVEL": 3}


def test_several_aliases_of_one_anchor_are_fine(tmp_path, capsys):
    """Anchors are for sharing settings between environments: that stays allowed."""
    text = HEAD + (
        "environments:\n  staging: &shared\n    scaling: {min: 1, max: 2}\n"
        "  production: *shared\n  dev:\n    <<: *shared\n    compute: {cpu: 512, memory: 1024}\n"
    )
    file = tmp_path / "service.yaml"
    file.write_text(text)
    assert main(["validate", str(file)]) == 0, capsys.readouterr().err


# Bombs, deep nesting and huge files: in a process of their own, under a memory limit.

MEMORY_LIMIT = 1024 * 1024 * 1024  # address space: Python with jsonschema and PyYAML needs ~300 MiB


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_limited(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bluegreen.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=_limit_memory,
        timeout=60,  # a guard against a hang, not a speed goal: these take well under a second
    )


LIMITED = [
    # id, text (or None for a file given as an argument), line, words
    ("bomb-7-levels", bomb(7), 14, f"at most {MAX_NODES} values with aliases expanded"),
    ("bomb-9-levels", bomb(9), 14, f"at most {MAX_NODES} values with aliases expanded"),
    (
        "bomb-wide-mapping",
        HEAD
        + "a: &a {"
        + ", ".join(f"k{i}: {i}" for i in range(2000))
        + "}\n"
        + "b: &b ["
        + ", ".join(["*a"] * 20)
        + "]\n",
        9,
        "found alias *a passing it",
    ),
    ("nesting-100000", HEAD + "x: " + "[" * 100_000 + "]" * 100_000 + "\n", 8, f"at most {MAX_DEPTH} levels"),
    ("nesting-mappings-100000", HEAD + "x: " + "{a: " * 100_000 + "1" + "}" * 100_000 + "\n", 8, "levels"),
    ("file-over-limit", HEAD + "description: " + "x" * (MAX_BYTES + 10) + "\n", None, "at most 1024 KiB"),
]


@pytest.mark.parametrize(("text", "line", "words"), [c[1:] for c in LIMITED], ids=[c[0] for c in LIMITED])
def test_bombs_and_nesting_under_a_memory_limit(tmp_path, text, line, words):
    file = tmp_path / "service.yaml"
    file.write_text(text)

    result = run_limited(["new", str(file), str(tmp_path / "out")], tmp_path)

    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    prefix = f"{file}:{line}:" if line else f"{file}: (document): "
    assert lines[0].startswith(prefix), lines[0]
    assert words in lines[0], lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["service.yaml"]


def test_dev_zero_is_refused_without_reading_it_all(tmp_path):
    result = run_limited(["validate", "/dev/zero"], tmp_path)

    assert result.returncode == 2
    assert (
        result.stderr
        == "/dev/zero: (document): expected a file of at most 1024 KiB, found more than 1048576 bytes\n"
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["validate", "x" * 5000], "File name too long"),
        (["validate", "/proc/self/mem"], "a readable file"),
        (["validate", "/dev/null"], "an empty document"),
        (["new", "/dev/zero", "out"], "at most 1024 KiB"),
    ],
    ids=["name-too-long", "unreadable", "dev-null", "new-dev-zero"],
)
def test_odd_files_are_one_line(tmp_path, monkeypatch, capsys, args, words):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err
    assert list(tmp_path.iterdir()) == []


# The command line's other inputs.


def test_unknown_vcs_ref_is_one_line(tmp_path, capsys):
    from tests.support.template_repo import make_template_repo, url

    template = make_template_repo(tmp_path / "template")
    spec = tmp_path / "service.yaml"
    spec.write_text(HEAD)

    code = main(
        ["new", str(spec), str(tmp_path / "out"), "--template", url(template), "--vcs-ref", "nosuchref"]
    )

    assert code == 2
    err = capsys.readouterr().err
    assert err == f"bluegreen: template version nosuchref: no such tag, branch or commit in {url(template)}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["service.yaml", "template"]


def test_unreachable_template_is_one_line(tmp_path, capsys):
    spec = tmp_path / "service.yaml"
    spec.write_text(HEAD)

    code = main(["new", str(spec), str(tmp_path / "out"), "--template", "https://127.0.0.1:9/bluegreen.git"])

    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bluegreen: git failed for template https://127.0.0.1:9/")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["service.yaml"]


def test_missing_git_is_one_line(tmp_path):
    """PATH without git (python alone on it): a git template cannot be read; one line, exit 1."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    spec = tmp_path / "service.yaml"
    spec.write_text(HEAD)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bluegreen.cli",
            "new",
            str(spec),
            str(tmp_path / "out"),
            "--template",
            "https://127.0.0.1:9/bluegreen.git",
        ],
        env={**os.environ, "PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "git" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "service.yaml"]


# Permissions of what `new` writes.


def test_new_repo_gets_the_umask_mode_and_empty_dest_keeps_its_own(tmp_path, capsys):
    spec = tmp_path / "service.yaml"
    spec.write_text(HEAD)
    old = os.umask(0o027)
    try:
        assert main(["new", str(spec), str(tmp_path / "fresh")]) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "fresh").stat().st_mode & 0o777 == 0o750

    empty = tmp_path / "empty"
    empty.mkdir()
    empty.chmod(0o711)
    assert main(["new", str(spec), str(empty)]) == 0
    assert empty.stat().st_mode & 0o777 == 0o711
    assert (empty / "service.yaml").read_text() == HEAD
    capsys.readouterr()


def test_bad_dest_is_one_line(tmp_path, capsys):
    spec = tmp_path / "service.yaml"
    spec.write_text(HEAD)
    (tmp_path / "file").write_text("x")

    assert main(["new", str(spec), str(tmp_path / "file" / "below")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    shutil.rmtree(tmp_path / "file", ignore_errors=True)
