"""Render and plan timings for the example and 20 generated services (a script; no assertions).

    .venv/bin/python benchmarks/bench_services.py [--services 20] [--repeat 3] [--no-plan]

For each service: `bluegreen new` (validation + Copier + the model hook) against a
bare Copier `run_copy` of the same template with the same answers, both in this
process, median of --repeat runs; then `terraform plan` of every environment
against the local emulator (moto in server mode, started once, reset per plan).
Prints one row per service and the machine the figures come from.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from bluegreen.copier_extension import copier_data  # noqa: E402
from bluegreen.emulator import sandbox  # noqa: E402
from bluegreen.loader import load_spec  # noqa: E402
from bluegreen.render import render_new  # noqa: E402
from bluegreen.validate import validate_file  # noqa: E402
from copier import run_copy  # noqa: E402

EXAMPLE = PROJECT_ROOT / "examples/hello-world/service.yaml"
RUNTIMES = ("python", "node", "go", "java-gradle", "java-maven", "dockerfile")
STRATEGIES = (
    {"strategy": "all_at_once"},
    {"strategy": "canary", "canary": {"percent": 10, "minutes": 5}},
    {"strategy": "linear", "linear": {"percent": 25, "minutes": 2}},
)


def generated_specs(count: int) -> Iterator[dict]:
    """`count` varied, valid specs: runtimes, strategies, DNS or not, one to three environments."""
    shapes = itertools.product(RUNTIMES, STRATEGIES, (True, False), (1, 2, 3))
    for index, (runtime, deployment, dns, environments) in enumerate(itertools.islice(shapes, count)):
        spec = {
            "schema_version": 1,
            "name": f"svc-{index:02d}",
            "aws": {"region": ("us-west-2", "eu-west-1", "us-east-1")[index % 3]},
            "app": {"runtime": runtime, "port": 8000 + index},
            "compute": {"cpu": 512, "memory": 1024, "spot": index % 2 == 0},
            "scaling": {"min": 1, "max": 3 + index % 4, "memory_target": 70 if index % 2 else None},
            "deployment": deployment,
        }
        if dns:
            spec["dns"] = {"zone": "example.com", "record": f"svc-{index:02d}"}
        if environments > 1:
            names = ("dev", "staging", "production")[-environments:]
            spec["environments"] = {name: {"scaling": {"min": 1, "max": 2}} for name in names[:-1]}
            spec["environments"][names[-1]] = {}
            if dns:
                for name in names[:-1]:
                    spec["environments"][name]["dns"] = {"record": f"svc-{index:02d}-{name}"}
        yield spec


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def render_seconds(spec: Path, scratch: Path, repeat: int) -> tuple[float, float]:
    """Median seconds of `bluegreen new` and of a bare Copier copy with the same answers."""
    data = copier_data(load_spec(spec).data)
    runs = itertools.count()
    new = median_seconds(lambda: render_new(spec, scratch / f"new-{next(runs)}"), repeat)
    bare = median_seconds(
        lambda: run_copy(
            str(PROJECT_ROOT),
            scratch / f"bare-{next(runs)}",
            data=data,
            defaults=True,
            unsafe=True,
            quiet=True,
        ),
        repeat,
    )
    return new, bare


def plan_seconds(emulator: sandbox.Emulator, repo: Path, env: sandbox.Environment) -> float:
    reset = urllib.request.Request(f"{emulator.endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=30).close()
    sandbox.seed_environment(emulator.endpoint, env)
    root = sandbox.prepare_environment(repo, env, emulator.endpoint)
    started = time.perf_counter()
    sandbox.terraform(root, "plan", "-input=false", "-lock=false", "-refresh=true")
    return time.perf_counter() - started


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or "unknown CPU",
    )
    terraform = subprocess.run(
        [sandbox.find_terraform(), "version"], capture_output=True, text=True, check=True
    )
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"{terraform.stdout.splitlines()[0]}, {platform.system()} {platform.release()}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=20, help="generated services besides the example")
    parser.add_argument("--repeat", type=int, default=3, help="renders per service and tool (median)")
    parser.add_argument("--no-plan", action="store_true", help="skip terraform plan")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="bluegreen-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        specs = [EXAMPLE]
        for spec in generated_specs(args.services):
            path = scratch / f"{spec['name']}.yaml"
            path.write_text(yaml.safe_dump(spec, sort_keys=False))
            specs.append(path)
        emulator = None if args.no_plan else sandbox.Emulator().start()
        try:
            header = f"{'service':<14} {'envs':>4} {'new s':>7} {'copier s':>8} {'ratio':>6}"
            print(f"{header}  plan s per environment")
            totals = []
            for number, spec in enumerate(specs):
                model = validate_file(spec)
                new, bare = render_seconds(spec, scratch / f"service-{number}", args.repeat)
                plans = ""
                if emulator:
                    repo = scratch / f"service-{number}" / "new-0"
                    timings = [
                        f"{env.name} {plan_seconds(emulator, repo, env):.1f}" for env in model.environments
                    ]
                    plans = ", ".join(timings)
                totals.append(new / bare)
                row = (
                    f"{model.name:<14} {len(model.environments):>4} {new:7.2f} {bare:8.2f} {new / bare:6.2f}"
                )
                print(f"{row}  {plans}")
            print(f"ratio bluegreen new / bare copier copy: median {statistics.median(totals):.2f}")
        finally:
            if emulator:
                emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
