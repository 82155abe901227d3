"""How long `bluegreen new` and `terraform plan` take for the example (a script; no assertions).

    .venv/bin/python benchmarks/bench_render_plan.py [SPEC] [--repeat N]

Prints, for SPEC (default: examples/hello-world/service.yaml):
- render: `bluegreen new SPEC DEST` as a user runs it (a fresh process each time);
- per environment, against a local emulator (moto in server mode) started once:
  seeding, `terraform init` and `terraform plan` + `show -json`.
Nothing is left running afterwards.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from bluegreen.emulator import sandbox  # noqa: E402
from bluegreen.validate import validate_file  # noqa: E402


def _seconds(times: list[float]) -> str:
    if len(times) == 1:
        return f"{times[0]:.2f} s"
    spread = f"min {min(times):.2f}, max {max(times):.2f}, n={len(times)}"
    return f"median {statistics.median(times):.2f} s ({spread})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default=str(PROJECT_ROOT / "examples/hello-world/service.yaml"))
    parser.add_argument("--repeat", type=int, default=3, help="runs of each step (default 3)")
    args = parser.parse_args()
    model = validate_file(args.spec)
    bluegreen = Path(sys.executable).parent / "bluegreen"
    command = [str(bluegreen)] if bluegreen.exists() else [sys.executable, "-m", "bluegreen.cli"]

    with tempfile.TemporaryDirectory(prefix="bluegreen-bench-") as scratch:
        renders, repos = [], []
        for run in range(args.repeat):
            dest = Path(scratch) / f"render-{run}"
            started = time.perf_counter()
            subprocess.run(
                [*command, "new", args.spec, str(dest)], check=True, capture_output=True, cwd=PROJECT_ROOT
            )
            renders.append(time.perf_counter() - started)
            repos.append(dest)
        print(f"{args.spec}: render (bluegreen new): {_seconds(renders)}")

        with sandbox.Emulator(patched=any(env.vpc_id for env in model.environments)) as emulator:
            for env in model.environments:
                seeds, inits, plans, counts = [], [], [], set()
                for repo in repos:
                    reset = urllib.request.Request(f"{emulator.endpoint}/moto-api/reset", method="POST")
                    urllib.request.urlopen(reset, timeout=30).close()
                    started = time.perf_counter()
                    sandbox.seed_environment(emulator.endpoint, env)
                    seeds.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    root = sandbox.prepare_environment(repo, env, emulator.endpoint)
                    inits.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    sandbox.terraform(root, "plan", "-input=false", "-lock=false", "-out=bench.tfplan")
                    plan = sandbox.terraform(root, "show", "-json", "bench.tfplan")
                    plans.append(time.perf_counter() - started)
                    counts.add(sandbox.plan_summary(json.loads(plan.stdout))["add"])
                print(f"environment {env.name}: {', '.join(map(str, sorted(counts)))} resources to add")
                print(f"  seed emulator:            {_seconds(seeds)}")
                print(f"  terraform init:           {_seconds(inits)}")
                print(f"  terraform plan + show:    {_seconds(plans)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
