"""Handlers get their environment in os.environ without breaking threads that copy it."""

from __future__ import annotations

import os
import threading
import time

from feecast_twin.lambda_runtime import _BLANKED, _environ, _remove_blanked

KEY = "FEECAST_TEST_ONLY_VARIABLE"


def test_given_a_call_then_its_variables_are_set_inside_and_blank_after_until_removed():
    assert KEY not in os.environ
    with _environ({KEY: "inside"}):
        assert os.environ[KEY] == "inside"
    assert os.environ[KEY] == "" and KEY in _BLANKED
    _remove_blanked()
    assert KEY not in os.environ and not _BLANKED


def test_given_a_thread_copying_the_environment_when_calls_come_and_go_then_it_never_fails():
    failures: list[BaseException] = []
    stop = threading.Event()

    def copy_forever() -> None:
        while not stop.is_set():
            try:
                os.environ.copy()
            except BaseException as exc:  # the race this guards against raised KeyError
                failures.append(exc)
                return

    copier = threading.Thread(target=copy_forever)
    copier.start()
    deadline = time.monotonic() + 1.0
    try:
        while time.monotonic() < deadline and not failures:
            for i in range(50):
                with _environ({f"{KEY}_{i}": "x"}):
                    pass
    finally:
        stop.set()
        copier.join()
        _remove_blanked()
    assert failures == []
