"""Progress lines of the commands that wait, and numbers rounded for people."""

from __future__ import annotations

import io

from feecast_cli.progress import Progress, human


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_not_on_a_terminal_each_state_change_is_one_line_with_its_elapsed_time() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = Progress("build", stream=stream, clock=clock)
    progress.update("Prepare The Data")
    clock.now += 12.34
    progress.update("Prepare The Data")  # no change: no line
    progress.tick()
    progress.update("Train The Model")
    clock.now += 50
    progress.done("SUCCEEDED")

    assert stream.getvalue().splitlines() == [
        "[    0.0 s] build: Prepare The Data",
        "[   12.3 s] build: Train The Model",
        "[   62.3 s] build: SUCCEEDED",
    ]


def test_on_a_terminal_a_spinner_turns_between_changes_and_is_cleared_before_a_line() -> None:
    stream, clock = Terminal(), Clock()
    progress = Progress("ingest replay", stream=stream, clock=clock)
    progress.update("0 lines read")
    clock.now += 3
    progress.tick()
    progress.update("20,000 lines read")

    text = stream.getvalue()
    assert "\r| ingest replay: 0 lines read (3 s)" in text or "\r/ ingest replay" in text
    assert "\r\033[K[    3.0 s] ingest replay: 20,000 lines read\n" in text


def test_numbers_are_rounded_for_people() -> None:
    assert human(0.12345678901234567) == "0.1235"
    assert human(0.2000000000000001) == "0.2"
    assert human(3) == "3" and human(12.0) == "12"
    assert human(123456.789) == "123,457" and human(0.000123456) == "0.0001235"
    assert human(None) == "-" and human("0.30000000000000004") == "0.3"
    assert human("n/a") == "n/a"
