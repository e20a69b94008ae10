"""A failing callback on the virtual clock can behave as on the device: logged, and the loop
goes on, so the simulation exercises the device's "one bad callback is not the end" path."""

from __future__ import annotations

import logging

import pytest

from hw_sim.clock import VirtualClock


def test_a_failing_callback_is_logged_and_the_loop_goes_on(caplog) -> None:
    clock = VirtualClock(fast=True, contain_errors=True)
    ran: list[str] = []

    def boom() -> None:
        raise ZeroDivisionError("a bug in one callback")

    clock.call_later(1.0, boom)
    clock.call_later(2.0, ran.append, "after")
    with caplog.at_level(logging.ERROR):
        clock.run()
    assert ran == ["after"]
    assert "boom failed; the loop goes on" in caplog.text and "ZeroDivisionError" in caplog.text


def test_without_it_the_error_reaches_the_caller() -> None:
    clock = VirtualClock(fast=True)
    clock.call_later(1.0, lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        clock.run()
