"""The doctor's checklist: one PASS or FAIL line per check, as text or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

#: The service the doctor checks, and the user it runs as (deploy.sh).
SERVICE = "bodycam"
SERVICE_USER = "bodycam"


@dataclass(frozen=True)
class Check:
    """One line of the checklist: a PASS, or a FAIL with what to do."""

    name: str
    ok: bool
    detail: str
    hint: str = ""


def passed(name: str, detail: str) -> Check:
    """A passing line."""
    return Check(name, True, detail)


def failed(name: str, detail: str, hint: str) -> Check:
    """A failing line; ``hint`` tells the technician what to do next."""
    return Check(name, False, detail, hint)


@dataclass
class Report:
    """The whole checklist, as text or JSON."""

    checks: list[Check]
    sim: bool
    fault: str | None
    config: str | None

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(c.ok for c in self.checks)

    @property
    def exit_code(self) -> int:
        """0 if every check passed, else 1."""
        return 0 if self.ok else 1

    def text_lines(self) -> list[str]:
        """The checklist a person reads: one PASS/FAIL line per check, hints indented."""
        where = "simulation" if self.sim else "device"
        if self.fault:
            where += f", fault injected: {self.fault}"
        width = max(len(c.name) for c in self.checks)
        lines = [f"bodycam doctor ({where})"]
        for c in self.checks:
            lines.append(f"  {'PASS' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.detail}")
            if not c.ok and c.hint:
                lines.append(f"        {'':<{width}}  -> {c.hint}")
        bad = sum(not c.ok for c in self.checks)
        lines.append("all checks passed" if not bad else f"{bad} of {len(self.checks)} checks failed")
        return lines

    def to_json(self) -> str:
        """The checklist for a program: ``ok``, ``sim``, ``fault``, ``config``, ``checks``."""
        return json.dumps({"ok": self.ok, "sim": self.sim, "fault": self.fault,
                           "config": self.config, "checks": [asdict(c) for c in self.checks]},
                          indent=2)
