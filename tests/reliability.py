"""The reliability summary that ends `make test`: faults survived, bad inputs tried, orders per issuance,
anything lost.

A fault test carries ``@pytest.mark.fault("the row of the fault matrix")`` and says what it counted with
``record(request, issuances=…, orders=…, lost=…)``; a bad-input case says its outcome with
``bad_input(request, outcome)``. Whether each survived is its test's result: a fault whose test failed
is reported as not survived, with nothing hidden.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

FAULT = "reliability-fault"
COUNTS = "reliability-counts"
BAD_INPUT = "reliability-bad-input"


def record(request: pytest.FixtureRequest, *, issuances: int, orders: int, lost: int = 0, **figures: str) -> None:
    """What a fault test counted: issuances it asked for, orders the CA holds for them, objects lost or
    left behind; ``figures`` are shown as they are (a takeover time)."""
    request.node.user_properties.append(
        (COUNTS, {"issuances": issuances, "orders": orders, "lost": lost, "figures": figures})
    )


def bad_input(request: pytest.FixtureRequest, outcome: str) -> None:
    request.node.user_properties.append((BAD_INPUT, outcome))


@dataclass
class Run:
    row: str
    outcome: str = "passed"
    counts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Ledger:
    faults: dict[str, Run] = field(default_factory=dict)  # by test id
    bad_inputs: Counter[str] = field(default_factory=Counter)  # expected outcome → cases tried
    bad_inputs_failed: list[str] = field(default_factory=list)

    def take(self, report: pytest.TestReport) -> None:
        properties = dict(report.user_properties)
        if FAULT in properties:
            run = self.faults.setdefault(report.nodeid, Run(str(properties[FAULT])))
            if report.failed or (report.skipped and run.outcome == "passed"):
                run.outcome = "skipped" if report.skipped else "failed"
            if report.when == "call":
                run.counts = [value for name, value in report.user_properties if name == COUNTS]
        if BAD_INPUT in properties and report.when == "call":
            self.bad_inputs[str(properties[BAD_INPUT])] += 1
            if report.failed:
                self.bad_inputs_failed.append(report.nodeid)

    def lines(self) -> list[str]:
        if not self.faults and not self.bad_inputs:
            return []
        out = []
        runs = list(self.faults.values())
        survived = [run for run in runs if run.outcome == "passed"]
        out.append(f"faults survived: {len(survived)} of {len(runs)}")
        rows = Counter(run.row for run in runs)
        for test, run in self.faults.items():
            counted = _totals(run.counts)
            mark = {"passed": "ok  ", "failed": "FAIL", "skipped": "skip"}[run.outcome]
            case = f" [{test.partition('[')[2].rstrip(']')}]" if rows[run.row] > 1 and "[" in test else ""
            detail = (
                f" — {_count(counted['orders'], 'order')} for {_count(counted['issuances'], 'issuance')}"
                if run.counts
                else ""
            )
            figures = "; ".join(f"{k.replace('_', ' ')} {v}" for c in run.counts for k, v in c["figures"].items())
            out.append(f"  {mark} {run.row}{case}{detail}{'; ' + figures if figures else ''}")
        tried = sum(self.bad_inputs.values())
        if tried:
            kinds = ", ".join(f"{count} {outcome}" for outcome, count in sorted(self.bad_inputs.items()))
            failed = len(self.bad_inputs_failed)
            out.append(
                f"bad inputs tried: {tried} ({kinds}); {tried - failed} handled as expected"
                + (f", {failed} not: {', '.join(self.bad_inputs_failed)}" if failed else "")
            )
        totals = _totals([c for run in runs for c in run.counts])
        if totals["issuances"]:
            out.append(
                f"orders per issuance under faults: {totals['orders'] / totals['issuances']:.2f} "
                f"({totals['orders']} orders for {totals['issuances']} issuances)"
            )
        out.append(f"anything lost or left behind: {totals['lost'] or 'nothing'}")
        return out


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _totals(counts: list[dict[str, Any]]) -> dict[str, int]:
    return {key: sum(int(c[key]) for c in counts) for key in ("issuances", "orders", "lost")}


LEDGER = Ledger()


def mark_items(items: list[pytest.Item]) -> None:
    for item in items:
        fault = item.get_closest_marker("fault")
        if fault is not None:
            item.user_properties.append((FAULT, fault.args[0]))
