"""Local runs give the memory they free back to the system (glibc's malloc).

Why: the FnApiRunner's runner process moves every stage's output and side
input between its workers as large byte blocks (a side input is one block, sent
whole to each worker). glibc serves such blocks from its heaps once a freed
block has raised its mmap threshold (it adapts up to 32 MB), and keeps a heap
per thread (the runner's gRPC threads), so what a stage freed stays resident
for the rest of the run. W1 HTML, 5,000 documents, 2 workers: the runner peaked
at 594 MB with ~250 MB in use (mallinfo2); with the threshold fixed at 128 KB
and two heaps the run's peak went from 1,802 to 1,416 MB, and the runner went
back to 288 MB after the near-duplicate stages (benchmarks/MEMORY_HOLDERS.md).

The runner process is set with mallopt (glibc reads its environment once, at
start); the worker processes, which the runner starts later, inherit the
environment. A variable the user set is left as it is.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import Dict, MutableMapping

# A fixed threshold: blocks from 128 KB (glibc's own starting value) are mapped
# and unmapped, never kept in a heap.
MMAP_THRESHOLD = 128 * 1024
ARENA_MAX = 2
SETTINGS: Dict[str, int] = {"MALLOC_MMAP_THRESHOLD_": MMAP_THRESHOLD,
                            "MALLOC_ARENA_MAX": ARENA_MAX}
# mallopt's parameter numbers (malloc.h).
_MALLOPT = {"MALLOC_MMAP_THRESHOLD_": -3, "MALLOC_ARENA_MAX": -8}


def return_freed_memory(environ: MutableMapping[str, str] = os.environ) -> Dict[str, str]:
    """Applies `SETTINGS` to this process and to the processes it starts.

    Returns the settings in effect. Off glibc (macOS, musl) the environment is
    set and mallopt skipped: the variables mean nothing there and cost nothing.
    """
    libc = _glibc()
    for name, value in SETTINGS.items():
        if name in environ:
            continue
        environ[name] = str(value)
        if libc is not None:
            libc.mallopt(_MALLOPT[name], value)
    return {name: environ[name] for name in SETTINGS}


def _glibc():
    """glibc, or None when this is not glibc."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # glibc only
    except (OSError, AttributeError):
        return None
    return libc
