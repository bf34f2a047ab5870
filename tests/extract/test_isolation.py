"""A child process bounds each document's time and memory; failures are data."""
from __future__ import annotations

import time

import pytest

from transforms.extract.isolation import CallCrashed, CallFailed, CallTimedOut, IsolatedFunction

TARGETS = "tests.isolation_targets"


def test_results_and_errors_cross_the_pipe():
    with IsolatedFunction(f"{TARGETS}:echo", timeout_s=20) as fn:
        assert fn.call({"a": [1, 2]}) == {"a": [1, 2]}
    with IsolatedFunction(f"{TARGETS}:raise_value_error", timeout_s=20) as fn:
        with pytest.raises(CallFailed) as caught:
            fn.call("bad page")
        assert caught.value.error_type == "ValueError"
        assert "bad page" in str(caught.value)


def test_an_overrunning_call_is_killed_and_the_next_call_works():
    with IsolatedFunction(f"{TARGETS}:sleep_then_echo", timeout_s=1.0) as fn:
        assert fn.call(0, "warm") == "warm"  # start-up is not charged to a call
        started = time.monotonic()
        with pytest.raises(CallTimedOut):
            fn.call(60, "never")
        assert time.monotonic() - started < 10
        assert fn.call(0, "again") == "again"


def test_a_dying_child_is_reported_and_replaced():
    with IsolatedFunction(f"{TARGETS}:exit_abruptly", timeout_s=20) as fn:
        with pytest.raises(CallCrashed):
            fn.call()
        with pytest.raises(CallCrashed):
            fn.call()


def test_memory_over_the_cap_fails_in_the_child_only():
    with IsolatedFunction(f"{TARGETS}:allocate", timeout_s=20, memory_limit_mb=600) as fn:
        assert fn.call(10) == 10 * 1024 * 1024
        with pytest.raises((CallFailed, CallCrashed)):
            fn.call(2000)
        assert fn.call(1) == 1024 * 1024


def test_a_default_socket_timeout_in_the_parent_does_not_break_the_pipe():
    # Beam's GCS client calls socket.setdefaulttimeout(60); new sockets then
    # start non-blocking, and the child's first read failed with EAGAIN.
    import socket
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(60)
    try:
        with IsolatedFunction(f"{TARGETS}:echo", timeout_s=20) as fn:
            assert fn.call("page") == "page"
            assert fn.call("next page") == "next page"
    finally:
        socket.setdefaulttimeout(previous)
