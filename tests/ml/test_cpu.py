"""ml.cpu: NumPy's AVX2 sort kernels on AMD Zen 4 only, set before numpy is imported, never over a value given."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ml import cpu

REPO = Path(__file__).resolve().parents[2]


def _cpuinfo(vendor: str, family: int, flags: str) -> str:
    entry = f"processor\t: {{n}}\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: 17\nflags\t\t: {flags}\n"
    return "\n".join(entry.format(n=n) for n in range(2))


ZEN4 = _cpuinfo("AuthenticAMD", 25, "fpu sse2 avx avx2 avx512f avx512dq avx512_bf16")


def test_only_zen4_has_the_slow_compress_store() -> None:
    assert cpu.slow_avx512_sort(ZEN4)
    assert not cpu.slow_avx512_sort(_cpuinfo("AuthenticAMD", 25, "fpu sse2 avx avx2"))  # Zen 3: no AVX-512
    assert not cpu.slow_avx512_sort(_cpuinfo("AuthenticAMD", 26, "avx2 avx512f"))  # Zen 5: fixed
    assert not cpu.slow_avx512_sort(_cpuinfo("GenuineIntel", 6, "avx2 avx512f"))  # where the kernels are fastest
    assert not cpu.slow_avx512_sort(_cpuinfo("AuthenticAMD", 25, "avx2 avx512fx"))  # a flag is a whole word
    assert not cpu.slow_avx512_sort("")


def test_the_setting_is_made_once_and_never_over_a_given_value(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(ZEN4)
    env: dict[str, str] = {}
    assert cpu.use_fast_sort(env, str(info)) and env == {cpu.VARIABLE: cpu.AVX512}
    given = {cpu.VARIABLE: ""}  # an empty value keeps every kernel
    assert not cpu.use_fast_sort(given, str(info)) and given == {cpu.VARIABLE: ""}
    info.write_text(_cpuinfo("GenuineIntel", 6, "avx512f"))
    other: dict[str, str] = {}
    assert not cpu.use_fast_sort(other, str(info)) and other == {}
    assert not cpu.use_fast_sort(other, str(tmp_path / "missing")) and other == {}


def test_the_command_line_makes_it_before_numpy_is_imported() -> None:
    """`python -m ml` decides before any import of numpy: a process that imported numpy first cannot."""
    script = ("import os, sys, runpy; sys.argv = ['ml', '--help']\n"
              "try:\n    runpy.run_module('ml', run_name='__main__')\nexcept SystemExit:\n    pass\n"
              "print(repr(os.environ.get('NPY_DISABLE_CPU_FEATURES')), 'numpy' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != cpu.VARIABLE}
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    expected = repr(cpu.AVX512) if cpu.slow_avx512_sort(Path(cpu.CPUINFO).read_text()) else "None"
    assert out.startswith(expected + " ")
    late = subprocess.run([sys.executable, "-c", "import numpy, os\nfrom ml import cpu\n"
                           "print(cpu.use_fast_sort(), os.environ.get('NPY_DISABLE_CPU_FEATURES'))"],
                          cwd=REPO, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert late == ["False", "None"]
