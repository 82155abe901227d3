"""From a loaded document to a model: the schema first, then the cross-field rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import SpecError
from .loader import LoadedSpec, load_spec
from .model import ServiceModel, build_model, merge_environments
from .rules import cross_field_problems
from .schema import apply_defaults, schema_problems


def validate(spec: LoadedSpec) -> ServiceModel:
    """The model of a valid spec; SpecError listing every problem otherwise."""
    problems = schema_problems(spec)
    if problems:
        raise SpecError(spec.source, problems)
    defaulted = apply_defaults(spec.data)
    environments = merge_environments(defaulted)
    problems = cross_field_problems(spec, environments)
    if problems:
        raise SpecError(spec.source, problems)
    return build_model(defaulted, environments)


def validate_file(path: str | Path) -> ServiceModel:
    """Load and validate a service.yaml file."""
    return validate(load_spec(path))


def validate_data(data: dict[str, Any], source: str = "service.yaml") -> ServiceModel:
    """Validate already-parsed data (Copier answers): the same rules, without line numbers."""
    return validate(LoadedSpec(source, data))
