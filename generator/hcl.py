"""Jinja filters that write Python values as HCL literals in the generated Terraform."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_KEYWORDS = {"true", "false", "null", "for", "in", "if"}
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def hcl(value: Any) -> str:
    """A string, number, bool, null or list as an HCL expression."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(hcl(item) for item in value) + "]"
    text = "".join(_ESCAPES.get(char, char) for char in str(value))
    # ${ and %{ start template interpolation in HCL strings; doubling them keeps them literal.
    return '"' + text.replace("${", "$${").replace("%{", "%%{") + '"'


def hcl_key(key: str, width: int = 0) -> str:
    """A map key, bare where HCL allows, padded to `width` as `terraform fmt` aligns them."""
    written = key if _BARE_KEY.match(key) and key not in _KEYWORDS else hcl(key)
    return written.ljust(width)


def hcl_key_width(keys: Iterable[str]) -> int:
    """The width `terraform fmt` aligns a block of map keys to."""
    return max((len(hcl_key(key)) for key in keys), default=0)


FILTERS = {"hcl": hcl, "hcl_key": hcl_key, "hcl_key_width": hcl_key_width}
