"""Terraform read with python-hcl2: the one place the tests parse HCL.

`parse` gives python-hcl2's query view of a file: `.blocks(kind, *labels)` finds the
blocks directly in a body whose labels start with `labels`, `.labels` names one.
`body`/`block` turn a block into python-hcl2's dict form, with the options below:
a nested block is a list with a dict per block (labels as nested keys), an attribute
its value: a string without its quotes (escapes resolved, `$${` kept), a number, a
bool, None for null, a list, a dict for an object, and any other expression its
source wrapped in "${...}" (a bare name, as in `ignore_changes` or `type`, stays a name).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
from hcl2.const import COMMENTS_KEY, INLINE_COMMENTS_KEY
from hcl2.query import BlockView, DocumentView

OPTIONS = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
# The comments in a block's body (not those of blocks nested in it) under "__comments__".
WITH_COMMENTS = dataclasses.replace(OPTIONS, with_comments=True)


def parse(source: Path | str) -> DocumentView:
    """A file (given as a Path) or HCL text, parsed."""
    return DocumentView.parse(source.read_text() if isinstance(source, Path) else source)


def body(view: BlockView | DocumentView, *, comments: bool = False) -> dict[str, Any]:
    """The attributes and nested blocks of a block (or a whole file), as python-hcl2's dict."""
    return view.body.to_dict(WITH_COMMENTS if comments else OPTIONS)


def block(view: BlockView | DocumentView, kind: str, *labels: str, comments: bool = False) -> dict[str, Any]:
    """The body of the one block `kind "labels"...` directly in `view`."""
    found = view.blocks(kind, *labels)
    assert len(found) == 1, f"{len(found)} blocks {kind} {' '.join(map(repr, labels))}"
    return body(found[0], comments=comments)


def comments(block_body: dict[str, Any]) -> list[str]:
    """The comments of a body read with comments=True, without their `#`."""
    return [comment["value"] for comment in block_body.get(COMMENTS_KEY, [])]


def values(node: Any) -> Iterator[Any]:
    """Every scalar under a body: strings (expressions among them), numbers, bools and None."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key not in (COMMENTS_KEY, INLINE_COMMENTS_KEY):
                yield from values(value)
    elif isinstance(node, list):
        for item in node:
            yield from values(item)
    else:
        yield node
