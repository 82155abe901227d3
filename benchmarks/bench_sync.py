"""How long the everyday loop takes: `bluegreen sync` after a one-line spec change (a script; no assertions).

    .venv/bin/python benchmarks/bench_sync.py [SPEC] [--repeat N]

A throwaway template repository is made from this checkout (tagged v1.0.0, as a release),
SPEC (default: tests/specs/full.yaml, staging listed before production) is rendered from
it with `bluegreen new` and committed; then, --repeat times, the first `max:` of the spec
goes up by one, is committed, and `bluegreen sync` runs as a user runs it (a fresh
process). Prints the render and each sync's wall time, their median, and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from tests.support.template_repo import git, make_template_repo, url  # noqa: E402


def timed(*command: str, cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default=str(PROJECT_ROOT / "tests/specs/full.yaml"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bluegreen = [sys.executable, "-m", "bluegreen.cli"]
    with tempfile.TemporaryDirectory(prefix="bluegreen-bench-sync-") as scratch:
        work = Path(scratch)
        template = make_template_repo(work / "template")
        repo = work / "service"
        render = timed(*bluegreen, "new", args.spec, str(repo), "--template", url(template), cwd=work)
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "generated")
        print(f"render (bluegreen new): {render:.2f} s")
        syncs = []
        for run in range(args.repeat):
            spec = repo / "service.yaml"
            text = spec.read_text()
            found = re.search(r"max: (\d+)", text)
            assert found, "the spec sets a scaling max"
            spec.write_text(text[: found.start(1)] + str(int(found.group(1)) + 1) + text[found.end(1) :])
            git(repo, "commit", "-q", "-am", f"scale up ({run})")
            syncs.append(timed(*bluegreen, "sync", str(repo), cwd=work))
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", f"sync ({run})")
            print(f"sync {run + 1}: {syncs[-1]:.2f} s")
        print(f"sync median of {len(syncs)}: {statistics.median(syncs):.2f} s")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load:.1f}")


if __name__ == "__main__":
    main()
