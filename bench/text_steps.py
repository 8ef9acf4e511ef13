"""How long each step a message's text goes through takes, for N letters, N "&" and N "<".

Run from the repository root: ``.venv/bin/python bench/text_steps.py``. No Django, no network.
Every step must be linear in the text's length, whatever the text holds: the "&/letters" and
"</letters" ratios stay near 1 at every size (the markup guard once tried ~2,200 entity names at
every "&": 300,000 "&" took 3.7 s where 300,000 letters took 0.1 s).

Steps, per Send: ``xml_text_clean`` (what XML cannot carry), ``emr_text_prepare`` (clean + the
markup guard, run when the form is checked, when the message is saved and when its file is
built), ``markup_present`` (the receivers' rule on the built file), and ``report_build`` +
``report_validate`` of the whole text report. The sizes go past the message limit
(``MESSAGE_TEXT_MAX``, 20,000) on purpose: a ``.txt`` attachment of up to 10 MB goes through the
same steps.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hrm.reports.build import report_build  # noqa: E402
from hrm.reports.text import emr_text_prepare, markup_present, xml_text_clean  # noqa: E402
from hrm.reports.types import (  # noqa: E402
    Report,
    ReportPatient,
    ReportPerson,
    ReportRecipient,
    ReportText,
)
from hrm.reports.validation import report_validate  # noqa: E402

SCHEMA = ROOT.parent / "shared/hrm-schema/report_manager_v1.1.2/report_manager.xsd"
SIZES = (20_000, 100_000, 300_000)
KINDS = {"letters": "a", "&": "&", "<": "<"}


def report_of(text: str) -> Report:
    return Report(
        patient=ReportPatient("Hélène", "Tremblay", date(1980, 2, 3), "F", "1234567890", "AB"),
        author=ReportPerson("Ann", "Lee"),
        recipient=ReportRecipient("D12345", "Raj", "Patel"),
        event_datetime=datetime(2024, 1, 5, 14, 30, tzinfo=UTC),
        sending_facility="1234",
        sending_facility_report_number="MSG-42-1",
        transaction_id="MSG-42-1-D12345",
        content=ReportText(text),
    )


def build_and_validate(text: str) -> None:
    report_validate(report_build(report_of(text)), SCHEMA)


STEPS = {
    "xml_text_clean": lambda text: xml_text_clean(text, multiline=True),
    "emr_text_prepare": emr_text_prepare,
    "markup_present": markup_present,
    "build+validate": build_and_validate,
}


def seconds(step, text: str) -> float:
    """The best of three runs (the machine is shared)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        step(text)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    print(f"{'step':<18}{'N':>9}" + "".join(f"{kind:>11}" for kind in KINDS) + "   &/a    </a")
    for name, step in STEPS.items():
        for size in SIZES:
            times = {kind: seconds(step, char * size) for kind, char in KINDS.items()}
            print(
                f"{name:<18}{size:>9}"
                + "".join(f"{times[kind] * 1000:>9.1f}ms" for kind in KINDS)
                + f"{times['&'] / times['letters']:>6.1f}{times['<'] / times['letters']:>7.1f}"
            )


if __name__ == "__main__":
    main()
