"""Every benchmark, one after the other, against one test environment: `python -m bench [--small]`.

  registration   N WorkflowDefinitions applied at once to all Ready, against the naive per-file loop and one bulk
                 PUT (500 and 2,000), then one change at a time with those N present (one_change's figures,
                 measured on the same resources rather than registering them all again)
  at_rest        1,000 WorkflowDefinitions and 10 MigrationPlans at rest: Conductor calls and CPU per minute, RSS
  counting       10,000 running executions over three versions counted per version
  moves          1,000 executions moved by waves, against the minimal bulk calls
  throttling     1,000 callers throttled with Retry-After: how the retries spread
  moving_step    what one step of a moving MigrationPlan reads, with 2,000 executions in flight

Each module also runs alone (`python -m bench.registration --definitions 500`, ...); each has
``main(argv) -> int``. The servers are a running test environment's (--testenv STATE, or
$CONDUCTOR_OPERATOR_TESTENV) else an Environment started once for all of them. --small is the quick run CI keeps
(tests/e2e/test_bench_real.py runs the same small sizes). Every figure depends on the machine: each benchmark
prints its load.

    .venv/bin/python -m bench [--small] [--only registration at_rest ...] [--testenv STATE]
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench.harness import add_testenv_argument, machine, servers

OPERATOR_BENCHMARKS = ("registration", "at_rest")
"""Run the real operator: given the test environment's state file (--testenv)."""
CONDUCTOR_BENCHMARKS = ("counting", "moves", "throttling", "moving_step")
"""Use Conductor only: given its URL (--conductor)."""
FULL_ARGS = {"registration": ["--definitions", "500", "2000", "--changes", "30"]}
SMALL_ARGS = {"registration": ["--small"], "at_rest": ["--small"], "counting": ["--small"], "moves": ["--small"],
              "throttling": ["--small"], "moving_step": ["--executions", "20", "--rounds", "1"]}


def run_one(name: str, argv: list[str]) -> int:
    return importlib.import_module(f"bench.{name}").main(argv) or 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="the quick run for CI")
    parser.add_argument("--only", nargs="+", choices=OPERATOR_BENCHMARKS + CONDUCTOR_BENCHMARKS,
                        help="run only these")
    add_testenv_argument(parser)
    args = parser.parse_args(argv)
    chosen = args.only or list(OPERATOR_BENCHMARKS + CONDUCTOR_BENCHMARKS)
    failed = []
    with servers(args.testenv) as found, tempfile.TemporaryDirectory(prefix="bench-state-") as workdir:
        state = args.testenv
        if not state:
            state = str(Path(workdir) / "state.json")
            Path(state).write_text(json.dumps({"kubeconfig": str(found.kubeconfig), "conductor": found.conductor,
                                               "kubectl": found.kubectl}))
        for name in chosen:
            extra = SMALL_ARGS.get(name, []) if args.small else FULL_ARGS.get(name, [])
            where = ["--testenv", state] if name in OPERATOR_BENCHMARKS else ["--conductor", found.conductor]
            print(f"\n==== bench.{name} {' '.join(extra)}   ({machine()}, {time.strftime('%H:%M:%S')})", flush=True)
            began = time.monotonic()
            try:
                code = run_one(name, [*extra, *where])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except Exception:  # noqa: BLE001  (one benchmark failing does not stop the others)
                traceback.print_exc()
                code = 1
            print(f"==== bench.{name}: {'done' if code == 0 else f'FAILED ({code})'} in "
                  f"{time.monotonic() - began:.0f}s", flush=True)
            if code:
                failed.append(name)
    print(f"\n{len(chosen) - len(failed)} of {len(chosen)} benchmarks ran"
          f"{'; failed: ' + ', '.join(failed) if failed else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
