"""The client benchmarks keep working: each runs small against the session's Conductor. The printed structure and
the counts are checked, never the timings."""

from __future__ import annotations

import re

import pytest

from bench import counting, moves, throttling

pytestmark = pytest.mark.realenv


def test_counting_counts_per_version_in_one_call_plus_one_per_thousand(conductor_url, capsys):
    assert counting.main(["--small", "--conductor", conductor_url]) == 0
    printed = capsys.readouterr().out
    assert "1200 running executions of 3 versions (v1: 400, v2: 400, v3: 400)" in printed
    found = re.search(r"counted per version: +[\d.]+s +(\d+) calls +\(goal 1 \+ ceil\(1200/1000\) = 3: ([\d.]+)x",
                      printed)
    assert found, printed
    assert (int(found[1]), found[2]) == (3, "1.00")
    assert "the running-ids read alone (floor)" in printed
    assert "GET /workflow/running/{} x1, POST /workflow/bulk/search x2" in printed


def test_moves_make_the_minimal_bulk_calls(conductor_url, capsys):
    assert moves.main(["--small", "--conductor", conductor_url]) == 0
    printed = capsys.readouterr().out
    assert "60 executions moved v1 -> v2 on Conductor OSS" in printed and "3 waves of 6, 18, 36" in printed
    assert re.search(r"bare bulk calls \(baseline\): +[\d.]+s +\d+ moves/s +6 calls", printed), printed
    found = re.search(r"the plan's mover: +[\d.]+s +\d+ moves/s +(\d+) calls .*?([\d.]+)x the minimal 6 bulk calls",
                      printed)
    assert found, printed
    assert (int(found[1]), found[2]) == (6, "1.00")
    assert "POST /workflow/bulk/restart x3, POST /workflow/bulk/terminate x3" in printed


def test_throttled_callers_come_back_spread_by_jitter(conductor_url, capsys):
    assert throttling.main(["--small", "--conductor", conductor_url]) == 0
    printed = capsys.readouterr().out
    assert "100 callers through one client, each refused once (429 with Retry-After)" in printed
    rows = {m[1]: (int(m[2]), int(m[3]), int(m[4]), int(m[5]), float(m[6])) for m in re.finditer(
        r"^  (\S.+?) +(\d+) +(\d+) +(\d+) +(\d+) +([\d.]+)s$", printed, re.MULTILINE)}
    assert set(rows) == {f"{case}, {kind}" for case in ("operator backoff (Retry-After 3s)",
                                                        "in-call retry (Retry-After 2s)")
                         for kind in ("no jitter (baseline)", "with jitter")}, printed
    for refusals, instant, due, at_conductor, spread in rows.values():
        assert 0 < refusals <= 100 and 0 < instant <= 100 and 0 < due <= 100 and 0 < at_conductor <= 100
        assert spread >= 0
    for case in ("operator backoff (Retry-After 3s)", "in-call retry (Retry-After 2s)"):
        assert rows[f"{case}, no jitter (baseline)"][1] == 100, "without jitter, refused together, back together"
        assert rows[f"{case}, with jitter"][1] < 100
    assert printed.count("peak retries due:") == 2
