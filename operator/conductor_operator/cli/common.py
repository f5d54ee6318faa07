"""What every kubectl-conductor command shares: its registration entry and the error it reports to the user."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

PROGRAM = "kubectl-conductor"


class BadInput(Exception):
    """Input the command cannot use; the message is shown to the user as it is."""


@dataclass(frozen=True)
class Command:
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
