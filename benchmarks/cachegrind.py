"""Instructions counted by valgrind's cachegrind: the figure that a busy machine does not move.

A script runs the same work twice under :data:`COMMAND`, once with ``few`` requests and once with
``many``; :func:`per_request` takes the difference over ``many - few``, so that start-up, imports
and set-up cancel out. Hash randomisation is off (:func:`environment`); what start-up still varies
between processes (a library's randomly seeded hash maps) is spread over ``many - few``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

#: valgrind counting instructions only; its per-line output file is not needed.
COMMAND = ("valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null")
_TOTAL = re.compile(rb"I\s+refs:\s+([\d,]+)")


def available() -> bool:
    """Whether valgrind is installed (without it, scripts run their work once, unmeasured)."""
    return shutil.which("valgrind") is not None


def environment() -> dict[str, str]:
    """This process's environment, with hash randomisation off so that counts repeat."""
    return {**os.environ, "PYTHONHASHSEED": "0"}


def instructions(output: bytes | str) -> int | None:
    """The instruction count in what valgrind printed under :data:`COMMAND`, if it printed one."""
    raw = output.encode() if isinstance(output, str) else output
    found = _TOTAL.search(raw)
    return int(found.group(1).replace(b",", b"")) if found else None


def per_request(count: Callable[[int], int], few: int, many: int) -> float:
    """Instructions of one request: ``count(many) - count(few)`` (the two run side by side)
    over ``many - few``."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        low, high = pool.map(count, (few, many))
    return (high - low) / (many - few)
