"""Moves the wall clock of every Python process started with this folder on PYTHONPATH (tests only).

RISKOPS_CLOCK_OFFSET_SECONDS shifts time.time() and datetime.now() by the same amount in every process
that inherits it, so Airflow's scheduler, API server, triggerer, task processes and the demo agree on the
moved "today"; monotonic clocks (timeouts, sleeps) are left alone.
"""

import os

_offset = os.environ.get("RISKOPS_CLOCK_OFFSET_SECONDS")
if _offset:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_offset), tick=True).start()
