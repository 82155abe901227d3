"""How fast, and in how much memory, hostile specs are refused (a script; no assertions).

    .venv/bin/python benchmarks/bench_hostile.py [--repeat N]

For each input: the time `parse_spec` + `validate` take in this process to refuse it
(median of N), and the peak memory of a fresh `bluegreen validate FILE` process
(ru_maxrss of the child), beside the same for the example spec, which is accepted.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from bluegreen.errors import SpecError  # noqa: E402
from bluegreen.loader import MAX_BYTES, parse_spec  # noqa: E402
from bluegreen.validate import validate  # noqa: E402

HEAD = "schema_version: 1\nname: orders\naws:\n  region: us-west-2\napp:\n  runtime: python\n  port: 8080\n"


def bomb(levels: int) -> str:
    lines = ["a0: &a0 [lol]"]
    lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, levels + 1)]
    return HEAD + "tags:\n" + "".join(f"  {line}\n" for line in lines)


# `bluegreen validate FILE` in a fresh process that prints its exit status and peak RSS (KiB).
CHILD = """
import contextlib, io, resource, sys
from bluegreen.cli import main
with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
    code = main(["validate", sys.argv[1]])
print(code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

INPUTS = {
    "example (accepted)": (PROJECT_ROOT / "examples/hello-world/service.yaml").read_text(),
    "alias bomb, 9 levels (521 bytes)": bomb(9),
    "nesting, 100000 flow levels": HEAD + "x: " + "[" * 100_000 + "]" * 100_000 + "\n",
    "recursive alias": HEAD + "x: &a [1, *a]\n",
    "1 MiB + 1 byte": HEAD + "description: " + "x" * MAX_BYTES + "\n",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        for name, text in INPUTS.items():
            times = []
            for _ in range(args.repeat):
                began = time.perf_counter()
                with contextlib.suppress(SpecError):
                    validate(parse_spec(text, "bench.yaml"))
                times.append(time.perf_counter() - began)
            file = Path(scratch) / "service.yaml"
            file.write_text(text)
            result = subprocess.run(
                [sys.executable, "-c", CHILD, str(file)], capture_output=True, text=True, check=False
            )
            code, peak = result.stdout.split()
            print(
                f"{name}: in process median {statistics.median(times) * 1000:.1f} ms;"
                f" `bluegreen validate` exit {code}, peak RSS {int(peak) / 1024:.0f} MiB"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
