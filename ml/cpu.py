"""NumPy's sort kernels for the CPU a step runs on: a setting made once per process, before numpy is imported.

NumPy sorts 32- and 64-bit numbers with x86-simd-sort. Its AVX-512 kernels store each partitioned vector with
the memory form of VPCOMPRESS, which AMD's Zen 4 (family 0x19 with AVX-512) runs in microcode: there
`np.sort` of a million float32 takes 31 ms, against 5.7 ms with its AVX2 kernels (AMD's optimisation guide
for Zen 4, section 2.11.2, says to avoid that form; OpenJDK turned off its AVX-512 sort on that family for the
same reason, JDK-8317976). Stability monitoring and the backtest sort every column of every day, so on Zen 4
a step asks NumPy for its AVX2 kernels (`NPY_DISABLE_CPU_FEATURES=X86_V4`, read when numpy is imported).
Sorted values are the same either way; only the time differs. NumPy's transcendental functions lose their
AVX-512 kernels too (np.log of a million float64: 0.9 ms -> 3.9 ms), far less than the sorts gain.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import MutableMapping

VARIABLE = "NPY_DISABLE_CPU_FEATURES"
AVX512 = "X86_V4"  # NumPy's name (>= 2.4) for the AVX-512 group its 32/64-bit sort kernels dispatch on
CPUINFO = "/proc/cpuinfo"


def slow_avx512_sort(cpuinfo: str) -> bool:
    """Whether /proc/cpuinfo's text describes a CPU whose AVX-512 compress-store is microcoded (AMD Zen 4)."""
    first = cpuinfo.split("\n\n", 1)[0]  # every processor entry of one machine is alike

    def field(name: str) -> str:
        found = re.search(rf"^{name}\s*:\s*(.*)$", first, re.MULTILINE)
        return found.group(1).strip() if found else ""

    return (field("vendor_id") == "AuthenticAMD" and field("cpu family") == "25"
            and "avx512f" in field("flags").split())


def use_fast_sort(environ: MutableMapping[str, str] | None = None, cpuinfo: str = CPUINFO) -> bool:
    """On Zen 4, have NumPy use its AVX2 kernels in this process and its children (or in the processes given
    `environ`); True when set here.

    Leaves a value already in the environment as it is (an empty one keeps every kernel), does nothing where
    /proc/cpuinfo cannot be read, and for this process nothing once numpy is imported (it reads the variable
    only then).
    """
    env = os.environ if environ is None else environ
    if VARIABLE in env or (environ is None and "numpy" in sys.modules):
        return False
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return False
    if not slow_avx512_sort(text):
        return False
    env[VARIABLE] = AVX512
    return True
