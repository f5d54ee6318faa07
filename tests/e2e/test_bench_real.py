"""The benchmarks keep working: each runs small against the session's Conductor (figures are not judged)."""

from __future__ import annotations

import pytest

from bench import moving_step

pytestmark = pytest.mark.realenv


async def test_the_moving_step_benchmark_reads_the_old_executions_only_for_a_wave_about_to_move(conductor_url,
                                                                                                capsys):
    await moving_step.run(conductor_url, executions=20, rounds=1)  # asserts what each wave state read
    printed = capsys.readouterr().out
    assert "20 executions in flight, 10 of them in the ledger as moved" in printed
    assert "a wave about to move (baseline)" in printed and "of the baseline" in printed
