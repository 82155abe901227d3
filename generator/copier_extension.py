"""Copier's door into bluegreen: every template render sees the validated model as `model`.

copier.yml loads this Jinja extension, so `copier copy --data-file service.yaml` and
`bluegreen new` validate with the same rules and render from the same model.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml
from copier.errors import UserMessageError
from copier_template_extensions import ContextHook
from jinja2 import Environment
from packaging.version import Version

from . import __version__
from .ci_text import FILTERS as CI_FILTERS
from .errors import SpecError, TemplateVersionError
from .hcl import FILTERS as HCL_FILTERS
from .iam import template_context
from .migrations import MigrationError, migrate_data
from .resources import template_root
from .schema import service_schema
from .validate import validate_data

SPEC_KEYS = tuple(service_schema()["properties"])
# Questions of type str in copier.yml (the others are yaml): Copier parses a string answer
# to a yaml question as YAML, on every render of an update too, so a service named `on`
# would become true and the description `Payments: cards` a mapping. Their empty answer
# stands for an absent field.
STRING_KEYS = tuple(
    key for key, field in service_schema()["properties"].items() if field.get("type") == "string"
)
_models: dict[str, dict[str, Any]] = {}
_answers_yaml: dict[str, str] = {}


class TemplateNeedsNewerBluegreen(TemplateVersionError, UserMessageError):
    """The template's bluegreen_min_version is above the installed bluegreen. A UserMessageError
    too, so plain `copier copy`/`update` prints the one line instead of a traceback."""


def require_version(minimum: str | None, installed: str = __version__) -> None:
    """Refuse a template that needs a newer bluegreen, with the upgrade command."""
    if minimum and Version(str(minimum)) > Version(installed):
        raise TemplateNeedsNewerBluegreen(
            f"this template needs bluegreen >= {minimum}, but bluegreen {installed} is installed: "
            f"upgrade with `pip install --upgrade 'bluegreen>={minimum}'` "
            f"(pipx: `pipx inject --force copier 'bluegreen>={minimum}'`)"
        )


def is_remote(source: str) -> bool:
    """A template source another machine can reach: a URL or an scp-style git address."""
    return "://" in source or source.startswith("git@")


def recorded_answers(
    answers: dict[str, Any],
    template_url: str,
    version: str = __version__,
    release: tuple[str, str | None] | None = None,
) -> str:
    """.copier-answers.yml as YAML: `_commit`, `_src_path`, then the blocks in the schema's
    order, each value in the spec's own order (an `environments` mapping listing staging
    before production stays so). Never sorted: Copier renders its merge base from these
    answers, and a sorted mapping would render differently from the committed files.
    The top level has one fixed order, whatever order Copier gathered the answers in (a
    fresh copy, an update, a sync), so the same spec always records the same bytes.

    The template source and version are recorded as `release` when given (a sync rendering
    the recorded release from the installed bluegreen keeps what was recorded), else as
    release_of() says; `_src_path` is left out when no URL is known.
    """
    record = dict(answers)
    url, ref = release or release_of(
        str(record.get("_src_path", "")), record.get("_commit"), template_url, version
    )
    record.pop("_src_path", None)
    record.pop("_commit", None)
    if ref:
        record["_commit"] = ref
    if url:
        record["_src_path"] = url
    order = ("_commit", "_src_path", *SPEC_KEYS)
    ordered = {key: record[key] for key in order if key in record}
    ordered.update((key, value) for key, value in record.items() if key not in ordered)
    return yaml.safe_dump(
        ordered, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1_000_000
    )


def release_of(
    source: str, commit: str | None, template_url: str, version: str = __version__
) -> tuple[str, str | None]:
    """(git URL or "", version) a render from `source` at Copier's `commit` is recorded as.

    - A URL the user passed: itself, at the version Copier rendered.
    - The template bundled with this bluegreen: release `v<version>` of `template_url`
      (copier.yml's setting, "" in a release built without one), whatever the folder is.
    - A local git checkout at a tag with an `origin` that is a URL: that remote, at that tag.
    - Any other folder (a checkout between tags, or without a remote): no URL, Copier's
      version as it is; never a local commit next to a URL that does not have it.
    """
    if is_remote(source):
        return source, commit
    folder = Path(source)
    if _same_folder(folder, template_root()):
        return template_url, f"v{version}"
    if commit and _git(folder, "rev-parse", "--quiet", "--verify", f"refs/tags/{commit}") is not None:
        remote = (_git(folder, "remote", "get-url", "origin") or "").strip()
        if is_remote(remote):
            return remote, commit
    return "", commit


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _git(folder: Path, *args: str) -> str | None:
    """git's output in `folder`, or None when it fails (no repository, no such ref)."""
    try:
        result = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=False)
    except OSError:
        return None
    return result.stdout if result.returncode == 0 else None


# While set, renders record this (URL, version) as the template release: a sync renders the
# recorded release from a throwaway git copy of the bundled template, which must not be what
# the repository records.
RECORDED_RELEASE: ContextVar[tuple[str, str | None] | None] = ContextVar("RECORDED_RELEASE", default=None)


@contextlib.contextmanager
def recording(url: str, ref: str | None) -> Iterator[None]:
    """Renders inside record (url, ref) as the template release."""
    token = RECORDED_RELEASE.set((url, ref))
    try:
        yield
    finally:
        RECORDED_RELEASE.reset(token)


def copier_data(spec: dict[str, Any]) -> dict[str, Any]:
    """Spec blocks as Copier data: an absent string field is the empty answer of its str question."""
    return {key: "" if key in STRING_KEYS and value is None else value for key, value in spec.items()}


def spec_from_answers(answers: dict[str, Any]) -> dict[str, Any]:
    """The service.yaml document an answer set stands for; unanswered (null) blocks are absent."""
    return {key: answers[key] for key in SPEC_KEYS if answers.get(key) not in (None, "")}


class ServiceModelHook(ContextHook):
    """Adds `model` (the validated model), `spec_yaml` (the spec as YAML) and `iam` (the
    deploy role's policies per environment, as JSON text) to the context, the `hcl`
    filters that write values as Terraform literals, and those of ci_text (YAML scalars,
    shell words, git URLs for pip) for the pipeline file."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters.update(HCL_FILTERS)
        environment.filters.update(CI_FILTERS)

    def hook(self, context: dict[str, Any]) -> None:
        require_version(context.get("bluegreen_min_version"))
        if context.get("_copier_phase") != "render":
            return  # questions are still being asked: the model needs every answer
        spec = spec_from_answers(context)
        # Answers recorded by an older template version: `copier update` renders that version
        # again (the base of its three-way merge) with this bluegreen. A spec that cannot be
        # migrated is left as it is: validation below names its problem.
        with contextlib.suppress(MigrationError):
            spec = migrate_data(spec)
        # Not sorted: the order of a mapping is part of the spec (environments render in
        # the order listed), so specs differing only in order must not share a model.
        cache_key = json.dumps(spec, default=str)
        if cache_key not in _models:
            try:
                model = validate_data(spec)
            except SpecError as error:
                raise UserMessageError(str(error)) from None
            _models[cache_key] = {
                "model": model.as_context(),
                "spec_yaml": yaml.safe_dump(spec, sort_keys=False),
                "iam": template_context(model),
            }
        context.update(_models[cache_key])
        context["answers_yaml"] = _recorded_answers_cached(
            dict(context["_copier_answers"]), str(context.get("template_url") or "")
        )
        # Public contract: where this repository's template release lives, as recorded in
        # .copier-answers.yml (`url` empty when no URL is known), for jobs that install it.
        record = yaml.safe_load(context["answers_yaml"]) or {}
        context["template_release"] = {
            "url": str(record.get("_src_path") or ""),
            "ref": str(record.get("_commit") or ""),
        }


def _recorded_answers_cached(answers: dict[str, Any], template_url: str) -> str:
    """recorded_answers, once per answer set: the hook runs for every file and path Copier
    renders (hundreds per render), and dumping the YAML each time took most of a render."""
    release = RECORDED_RELEASE.get()
    key = json.dumps([answers, template_url, release], default=str)  # order kept: it is recorded
    if key not in _answers_yaml:
        _answers_yaml[key] = recorded_answers(answers, template_url, release=release)
    return _answers_yaml[key]
