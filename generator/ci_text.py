"""Jinja filters that write values into the generated .gitlab-ci.yml: YAML scalars, shell
words, and the git URLs pip installs bluegreen from."""

from __future__ import annotations

import json
import re
import shlex
from urllib.parse import urlsplit

import yaml

_HOST = re.compile(
    r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]{1,5})?$"
)
_SCP = re.compile(r"^(?P<user>[\w.-]+)@(?P<host>[^:/]+):(?P<path>[^/].*)$")
_PIP_VCS_SCHEMES = ("https", "http", "ssh", "file")


def yaml_str(value: object) -> str:
    """A string as one YAML scalar on one line: plain where YAML reads it back as the same
    string (`bluegreen>=0.2,<0.3` stays readable), quoted where it would not (`true`, `a: b`).
    JSON's escapes (the `\\u003e` of `tojson`) only for text YAML cannot hold on a line as
    it is; the first form that a YAML parser reads back as `value` is the one written."""
    text = str(value)
    dumped = yaml.safe_dump({"k": text}, default_flow_style=False, allow_unicode=True, width=1_000_000)
    for written in (dumped.removeprefix("k: ").removesuffix("\n"), json.dumps(text, ensure_ascii=False)):
        if "\n" not in written and _reads_back(written, text):
            return written
    return json.dumps(text)


def _reads_back(written: str, text: str) -> bool:
    try:
        return yaml.safe_load(f"k: {written}\n") == {"k": text}
    except yaml.YAMLError:
        return False


def sh(value: object) -> str:
    """A string as one shell word, single-quoted only where the shell would change it."""
    return shlex.quote(str(value))


def pip_git_url(url: str) -> str:
    """A template's git URL as pip's VCS URL (`git+https://...`, `git+ssh://git@host/path`),
    or "" for a source pip cannot install from (a local path, an unknown scheme)."""
    if url.startswith("git+"):
        return url
    if scp := _SCP.match(url):
        return f"git+ssh://{scp['user']}@{scp['host']}/{scp['path']}"
    if urlsplit(url).scheme in _PIP_VCS_SCHEMES:
        return f"git+{url}"
    return ""


def https_git_host(requirement: str) -> str:
    """The host (and port) of the https git URL a pip requirement installs from, "" when it
    installs from an index, over ssh, from a file, or names a host no shell word can hold
    unquoted. The check job lends that host its CI job token when it is the job's own GitLab."""
    _, at, url = requirement.partition("@")
    if not at:
        return ""
    parts = urlsplit(url.strip())
    if parts.scheme != "git+https":
        return ""
    host = parts.netloc.rpartition("@")[2]
    return host if _HOST.match(host) else ""


FILTERS = {"yaml_str": yaml_str, "sh": sh, "pip_git_url": pip_git_url, "https_git_host": https_git_host}
