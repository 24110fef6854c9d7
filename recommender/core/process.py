"""Processes: whether one is still alive, and the crash tests' self-kill points.

Both serve crash safety: temp folders, leases and run rows carry the PID of the process
that owns them, so a later run can tell a dead writer's leftovers from a live one's work.
"""

from __future__ import annotations

import os
import signal

FAULT_VARIABLE = "RECSYS_FAULT"


def pid_alive(pid: int) -> bool:
    """True while process `pid` exists (a reused PID keeps leftovers a little longer:
    never the reverse)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fault_point(name: str) -> None:
    """SIGKILL this process here when RECSYS_FAULT names this point: the crash tests' way
    to stop `recsys train` at an exact step, as a power cut or the OOM killer would."""
    if os.environ.get(FAULT_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)
