"""Start the local environment for a person: `python -m testenv up` or `python -m testenv demo`.

up    starts kube-apiserver, etcd and Conductor on loopback, prints how to reach them, and keeps
      them running until Ctrl-C. The state file it writes lets pytest reuse the same servers
      (CONDUCTOR_OPERATOR_TESTENV=<state file>).
demo  does the same, installs the CRDs, runs the operator, applies examples/, and shows what the
      operator did. With --check it exits after showing the result (non-zero if it failed).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from testenv.demo import run_demo
from testenv.servers import Environment
from testenv.tools import REPO_ROOT, TestEnvError

STATE_FILES = {"up": REPO_ROOT / ".testenv" / "state.json", "demo": REPO_ROOT / ".testenv" / "demo-state.json"}
"""One per command, so a demo run beside `up` does not overwrite or remove the state file pytest reuses."""


def _print_access(env: Environment, state_file: Path) -> None:
    info = env.describe()
    print(f"""
Test environment is up (logs and data in {info['workdir']}).
  kube-apiserver  {info['kube_apiserver']}
  Conductor       {info['conductor']}   (API: {info['conductor_api']})

  export KUBECONFIG={info['kubeconfig']}
  alias kubectl={info['kubectl']}
  export CONDUCTOR_OPERATOR_TESTENV={state_file}   # pytest reuses these servers
""", flush=True)


def _wait_for_interrupt() -> None:
    print("Press Ctrl-C to stop.", flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    try:
        while not stop:
            time.sleep(1)
    except KeyboardInterrupt:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testenv", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the servers and keep them running")
    demo = sub.add_parser("demo", help="start the servers, the operator and the examples")
    demo.add_argument("--check", action="store_true", help="exit after the demo ran (for CI)")
    args = parser.parse_args(argv)

    try:
        env = Environment(keep=args.command == "up")
        print("Starting kube-apiserver, etcd and Conductor (Conductor takes ~20 s)...", flush=True)
        env.start()
    except TestEnvError as exc:
        print(f"{'Demo FAILED' if args.command == 'demo' else 'error'}: {exc}", file=sys.stderr)
        return 1
    state_file = STATE_FILES[args.command]
    try:
        state_file.parent.mkdir(exist_ok=True)
        state_file.write_text(json.dumps(env.describe(), indent=2))
        _print_access(env, state_file)
        if args.command == "demo":
            ok = run_demo(env, keep_running=not args.check)
            return 0 if ok else 1
        _wait_for_interrupt()
        return 0
    finally:
        state_file.unlink(missing_ok=True)
        env.stop()


if __name__ == "__main__":
    sys.exit(main())
