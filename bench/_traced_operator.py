"""The operator under tracemalloc, for finding what holds its memory (no change to the operator).

    python -X tracemalloc=10 bench/_traced_operator.py     (environment as for python -m conductor_operator)

On SIGUSR1 it writes the top allocation sites to $BENCH_TRACEMALLOC_DUMP: by package, by line, and by call
stack, then a line ``-- end --``. The dump runs in a thread, so the operator's event loop keeps going.
"""

from __future__ import annotations

import gc
import os
import re
import signal
import sys
import threading
import tracemalloc
from collections import Counter
from pathlib import Path

from _image_like import hide_kubernetes_client  # this file runs as a script, beside it

TOP = 25
_SITE = re.compile(r"/(?:site|dist)-packages/([A-Za-z0-9_]+)")


def package_of(filename: str) -> str | None:
    """The package a source file belongs to (conductor_operator by module); None for the standard library."""
    if "/conductor_operator/" in filename:
        return "conductor_operator." + filename.rsplit("/conductor_operator/", 1)[1].split("/")[0].removesuffix(".py")
    found = _SITE.search(filename)
    return found.group(1) if found else None


def responsible(traceback: tracemalloc.Traceback) -> str:
    """The innermost package (not the standard library, not importlib) on the stack of an allocation: for a
    module's code and objects loaded at import, the package that imported it."""
    for frame in reversed(traceback):
        if frame.filename != __file__ and (name := package_of(frame.filename)):
            return name
    return "(standard library only, within the frames kept)"


def report() -> str:
    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces([
        tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<unknown>")])
    current, peak = tracemalloc.get_traced_memory()
    lines = [f"traced now {current / 2**20:.1f} MiB, traced peak {peak / 2**20:.1f} MiB "
             f"(Python allocations only: not the interpreter, C libraries, or freed memory not returned)", "",
             "by package (the innermost non-standard-library frame of each allocation):"]
    packages: Counter[str] = Counter()
    stacks = snapshot.statistics("traceback")
    for stat in stacks:
        packages[responsible(stat.traceback)] += stat.size
    lines += [f"  {size / 2**20:8.2f} MiB  {name}" for name, size in packages.most_common(TOP)]
    lines += ["", "by line:"]
    for stat in snapshot.statistics("lineno")[:TOP]:
        frame = stat.traceback[0]
        lines.append(f"  {stat.size / 2**20:8.2f} MiB {stat.count:9d} blocks  {frame.filename}:{frame.lineno}")
    lines += ["", "by call stack (the 10 largest, innermost frame last):"]
    for stat in stacks[:10]:
        lines.append(f"  {stat.size / 2**20:8.2f} MiB {stat.count:9d} blocks")
        for frame in list(stat.traceback)[-8:]:
            lines.append(f"      {frame.filename}:{frame.lineno}")
    return "\n".join(lines) + "\n-- end --\n"


def install(dump: Path) -> None:
    def write() -> None:
        text = report()
        partial = dump.with_suffix(".partial")
        partial.write_text(text)
        partial.replace(dump)

    signal.signal(signal.SIGUSR1, lambda *_: threading.Thread(target=write, name="tracemalloc-dump").start())


def main() -> None:
    if not tracemalloc.is_tracing():
        tracemalloc.start(10)
    install(Path(os.environ.get("BENCH_TRACEMALLOC_DUMP", "tracemalloc.txt")))
    sys.argv = [sys.argv[0]]
    hide_kubernetes_client()  # as the image runs it (_image_like.py)
    from conductor_operator.__main__ import main as operator_main

    operator_main()


if __name__ == "__main__":
    main()
