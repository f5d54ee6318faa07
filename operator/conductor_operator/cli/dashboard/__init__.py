"""`kubectl conductor dashboard [PLAN]`: a local page showing MigrationPlans as they go, with their controls.

The page is plain HTML, CSS and a small script shipped in this package (``static/``; no CDN, no build step).
It shows each plan's phase, the running executions per version over time (from the history the operator
keeps in ``<plan>-history``), the drain curve with its estimate, the waves with their gates, the conditions,
and the controls promote, pause, resume, abort and rollback, each after a confirmation. The server binds to
loopback unless ``--address`` says otherwise, and reads only the Kubernetes API, with your kubeconfig.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys

from conductor_operator.cli import plans
from conductor_operator.cli.common import PROGRAM, BadInput, Command
from conductor_operator.cli.dashboard import server

DEFAULT_PORT = 3100
LOOPBACK = "127.0.0.1"


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan", metavar="PLAN", nargs="?", help="the MigrationPlan to show (default: every plan of "
                                                                "the namespace)")
    plans.cluster_arguments(parser)
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT,
                        help=f"the local port to serve on (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--address", default=None,
                        help=f"the address to serve on (default {LOOPBACK}); another than loopback lets anyone "
                             f"who reaches it steer the plans with your credentials")


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"not a port: {text!r}")
    return int(text)


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        raise BadInput(f"--address {address!r} is not an IP address (or localhost)") from None


def run(args: argparse.Namespace) -> int:
    address = args.address or LOOPBACK
    if not is_loopback(address):
        if args.address is None:  # only an explicit --address leaves loopback
            raise BadInput(f"refusing to serve on {address}, which is not loopback, without an explicit --address")
        print(f"{PROGRAM}: warning: serving on {address}, not loopback: anyone who reaches it can pause, abort and "
              f"roll back MigrationPlans with your credentials", file=sys.stderr)
    source = server.connect(args.kubeconfig, args.context, args.namespace)
    dashboard = server.Dashboard(source, args.plan)
    dashboard.snapshot()  # no cluster, no such plan: one line and exit 2, before anything is served
    httpd = server.serve(dashboard, address, args.port)
    host = f"[{address}]" if ":" in address else address
    what = f"{plans.KIND} {source.namespace}/{args.plan}" if args.plan else f"the {plans.KIND}s of {source.namespace}"
    print(f"Serving a dashboard of {what} at http://{host}:{httpd.server_address[1]}/ (Ctrl-C stops it)",
          flush=True)
    try:
        httpd.serve_forever(poll_interval=0.5)
    finally:
        httpd.server_close()
    return 0


COMMANDS: dict[str, Command] = {
    "dashboard": Command("serve a local page showing MigrationPlans as they go, with promote, pause, resume, abort "
                         "and rollback", _arguments, run),
}
