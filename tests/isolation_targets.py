"""Functions the isolation tests run in a child process (importable by name)."""
from __future__ import annotations

import os
import time


def echo(value):
    return value


def sleep_then_echo(seconds: float, value):
    time.sleep(seconds)
    return value


def raise_value_error(message: str):
    raise ValueError(message)


def exit_abruptly():
    os._exit(3)


def allocate(megabytes: int):
    return len(bytearray(megabytes * 1024 * 1024))
