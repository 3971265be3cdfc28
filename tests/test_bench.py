"""Every benchmark runs at its tiny size (`bench/run.py --tiny`), so a bench that no longer runs fails the suite;
the figures are checked to be there, not their goals (a tiny size says nothing about speed). The stability
engine's PSI values are held equal to the reference computation, with NumPy's sort kernels of either kind."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.run import BENCHES, run_bench
from bench.table import TINY_SKIPPED, failed, figure, render
from ml import cpu

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", BENCHES)
def test_the_bench_runs_at_its_tiny_size(name: str) -> None:
    figures = run_bench(name, tiny=True, echo=False)
    assert figures and all(f.bench == name for f in figures), render(figures)
    for f in figures:
        # a figure not measured says why: only a comparison with another tool's environment, at tiny size
        assert (f.value is not None and math.isfinite(f.value)) or f.note.startswith(TINY_SKIPPED), render([f])
        assert f.load >= 0
    assert any(f.value is not None for f in figures if f.goal)
    render(figures)


def test_a_goal_not_met_fails_the_run() -> None:
    slow, met, kept = (figure("b", "speed-up", 49.9, "x", ">= 50"), figure("b", "time", 30, "s", "<= 30"),
                       figure("b", "for the record", 1.0))
    assert failed([slow, met, kept]) == [slow] and kept.passed is None
    assert figure("b", "speed-up", None, "x", ">= 50", note="exit 1").passed is False  # not measured
    assert "FAIL" in render([slow]) and "FAIL" not in render([slow], judged=False)
    with pytest.raises(ValueError, match="a goal is"):
        figure("b", "speed-up", 1.0, goal="> 50")
    with pytest.raises(ValueError):
        figure("b", "speed-up", 1.0, goal="> 50")


def _engine_psi(sort_kernels: str | None) -> dict[str, float]:
    """The bench's engine PSI on small frames, in a fresh process with NPY_DISABLE_CPU_FEATURES as given
    (None: as `ml.cpu` decides; "": every kernel, AVX-512 included where the CPU has it)."""
    env = {k: v for k, v in os.environ.items() if k != cpu.VARIABLE}
    if sort_kernels is not None:
        env[cpu.VARIABLE] = sort_kernels
    script = ("import json, sys; sys.path.insert(0, '.'); from bench import stability as s; "
              "print(json.dumps(s.engine_on_frames(*s.frames(50_000))[2]))")
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                         check=True)
    return {k: float(v) for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def test_the_stability_engine_gives_the_reference_psi_with_either_sort() -> None:
    """PSI/CSI of the engine (one sort per column, columns on two threads) equal `ml.bins.stability`'s on the
    bench's own frames, whichever kernels NumPy uses. To 1e-12, not bit for bit: NumPy's AVX2 and AVX-512
    logarithms may differ in the last bit, while one row in another bin moves a PSI by far more."""
    from bench import stability as bench_stability
    from ml import bins

    ref, ref_scores, cur, cur_scores = bench_stability.frames(50_000)
    expected = bins.stability(bins.fit_reference(ref, ref_scores), cur, cur_scores)
    reference = {"score": expected["score_psi"], **{k: v["csi"] for k, v in expected["features"].items()}}
    for kernels in (None, ""):
        assert _engine_psi(kernels) == pytest.approx(reference, rel=1e-12, abs=1e-15)
    assert reference["num_00"] > 0.05 and reference["num_01"] < 0.01  # the drifted column and a still one
