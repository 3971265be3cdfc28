"""Memory readings of the current process for the benchmarks (Linux /proc)."""

from __future__ import annotations


def status(field: str) -> int:
    """A /proc/self/status memory field in bytes (VmRSS, VmHWM...)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the next peak is the peak of what follows."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False
