"""`bluegreen demo`: render a spec and plan every environment against a local AWS emulator."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from .emulator.sandbox import (
    Emulator,
    SandboxError,
    find_terraform,
    format_summary,
    plan_environment,
    plan_summary,
    seed_environment,
)
from .render import render_new
from .validate import validate_file


def run_demo(spec_path: str | Path, workdir: str | Path, *, out: Any = None) -> int:
    """Render `spec_path` into `workdir`, plan every environment against a local emulator.

    Starts the emulator, seeds it with the network and zone each environment looks
    up, plans every environment and prints a summary per environment, then stops
    the emulator whatever happens. Returns 0 when every environment planned.
    """

    out = out or sys.stdout
    model = validate_file(spec_path)
    find_terraform()  # fail before rendering and starting anything when there is none
    repo = render_new(spec_path, Path(workdir))
    print(f"rendered {spec_path} into {repo}", file=out)
    failures = 0
    with Emulator(patched=True) as emulator:
        print(f"local AWS emulator (moto) at {emulator.endpoint}", file=out)
        for env in model.environments:
            started = time.monotonic()
            try:
                seed_environment(emulator.endpoint, env)
                plan = plan_environment(repo, env.name, emulator.endpoint)
            except SandboxError as error:
                print(f"environment {env.name}: plan failed:\n{error}", file=out)
                failures += 1
                continue
            print(format_summary(env.name, plan_summary(plan), time.monotonic() - started), file=out)
    print("emulator stopped; nothing left running", file=out)
    return 0 if failures == 0 else 1
