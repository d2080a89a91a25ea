"""Memory figures of a worker read from its /proc/PID/status text."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devtools.worker_process import status_kb

STATUS = """Name:\tarbitrage
Umask:\t0022
State:\tS (sleeping)
Pid:\t4242
VmPeak:\t 1843512 kB
VmSize:\t 1779000 kB
VmHWM:\t  251904 kB
VmRSS:\t  198656 kB
Threads:\t17
"""


def test_kb_fields_are_read() -> None:
    assert status_kb(STATUS, "VmHWM") == 251904
    assert status_kb(STATUS, "VmRSS") == 198656
    assert status_kb(STATUS, "VmPeak") == 1843512


def test_a_missing_or_odd_field_is_an_error() -> None:
    with pytest.raises(ValueError, match="no VmSwap"):
        status_kb(STATUS, "VmSwap")
    with pytest.raises(ValueError, match="not in kB"):
        status_kb(STATUS, "Threads")
    with pytest.raises(ValueError, match="no VmHW"):
        status_kb(STATUS, "VmHW")  # a prefix of a field is not the field


def test_this_process_peak_is_at_least_its_current_rss() -> None:
    status = Path(f"/proc/{os.getpid()}/status").read_text()
    assert status_kb(status, "VmHWM") >= status_kb(status, "VmRSS") > 0
