"""The reliability summary adds up what the fault and bad-input tests said, and hides no failure."""

from __future__ import annotations

from typing import Any

import pytest

from tests.reliability import BAD_INPUT, COUNTS, FAULT, Ledger


def report(nodeid: str, when: str, outcome: str, *properties: tuple[str, Any]) -> pytest.TestReport:
    return pytest.TestReport(nodeid, ("f.py", 1, nodeid), {}, outcome, None, when, user_properties=list(properties))


def counts(issuances: int, orders: int, lost: int = 0, **figures: str) -> tuple[str, Any]:
    return (COUNTS, {"issuances": issuances, "orders": orders, "lost": lost, "figures": figures})


def test_faults_are_counted_with_their_orders_figures_and_failures() -> None:
    ledger = Ledger()
    row = (FAULT, "operator SIGKILLed at random moments")
    for seed, outcome in (("11", "passed"), ("23", "failed")):
        nodeid = f"t.py::test_burst[{seed}]"
        ledger.take(report(nodeid, "setup", "passed", row))
        ledger.take(report(nodeid, "call", outcome, row, counts(60, 61 if outcome == "failed" else 60)))
        ledger.take(report(nodeid, "teardown", "passed", row))
    single = (FAULT, "kube-apiserver restarted")
    ledger.take(report("t.py::test_api", "call", "passed", single, counts(1, 1, takeover="6.1 s")))
    skipped = (FAULT, "the operator Pod deleted (real node)")
    ledger.take(report("t.py::test_pod", "setup", "skipped", skipped))

    lines = ledger.lines()

    assert lines[0] == "faults survived: 2 of 4"
    assert "  ok   operator SIGKILLed at random moments [11] — 60 orders for 60 issuances" in lines
    assert "  FAIL operator SIGKILLed at random moments [23] — 61 orders for 60 issuances" in lines
    assert "  ok   kube-apiserver restarted — 1 order for 1 issuance; takeover 6.1 s" in lines
    assert "  skip the operator Pod deleted (real node)" in lines
    assert "orders per issuance under faults: 1.01 (122 orders for 121 issuances)" in lines
    assert lines[-1] == "anything lost or left behind: nothing"


def test_bad_inputs_are_counted_by_outcome_and_a_failed_case_is_named() -> None:
    ledger = Ledger()
    ledger.take(report("t.py::test_bad[a]", "call", "passed", (BAD_INPUT, "refused")))
    ledger.take(report("t.py::test_bad[b]", "call", "passed", (BAD_INPUT, "refused")))
    ledger.take(report("t.py::test_bad[c]", "call", "failed", (BAD_INPUT, "Ready=False")))

    lines = ledger.lines()

    assert "bad inputs tried: 3 (1 Ready=False, 2 refused); 2 handled as expected, 1 not: t.py::test_bad[c]" in lines


def test_a_run_without_fault_or_bad_input_tests_says_nothing() -> None:
    ledger = Ledger()
    ledger.take(report("t.py::test_plain", "call", "passed"))
    assert ledger.lines() == []
