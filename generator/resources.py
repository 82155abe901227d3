"""Where the installed bluegreen keeps its Copier template and schema.

A wheel carries them as package data (bluegreen/_template: copier.yml, template/,
partials/, schema/; see setup.py), read through importlib.resources. An editable
install or a source checkout has no copy: there the checkout itself is the template,
found beside the package's source folder.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from .errors import ToolError

PACKAGED = "_template"


@cache
def template_root() -> Path:
    """The folder holding copier.yml, template/, partials/ and schema/ of this bluegreen."""
    packaged = resources.files(__package__).joinpath(PACKAGED)
    if packaged.joinpath("copier.yml").is_file():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "copier.yml").is_file() and (checkout / "pyproject.toml").is_file():
        return checkout
    raise ToolError(
        f"this bluegreen installation has no template (looked in {packaged} and {checkout}): "
        "reinstall it from a wheel (pip install --force-reinstall bluegreen)"
    )


def schema_file() -> Path:
    return template_root() / "schema" / "service.schema.json"
