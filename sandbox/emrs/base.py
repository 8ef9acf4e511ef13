"""What every sandbox EMR decides, with OSCAR's code as the default (Open-O and Juno grew out of
it): a subclass overrides only where its EMR's code differs."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.reading import HrmFile
from sandbox.rules import oscar_drops


@dataclass(frozen=True)
class ChainEntry:
    """What ``HRMResultsData.isNewer`` compares of one filed document of a version chain."""

    document_id: int
    message_unique_id: str
    result_status: str


def _message_date(message_unique_id: str) -> int | None:
    """The sixth ``^`` part of HRM's own MessageUniqueID (its message date, yyyyMMddHHmm), as a
    number; None when the ID has no such part (ours has no carets) or it is not a number."""
    parts = message_unique_id.split("^")
    if len(parts) <= 5:
        return None
    try:
        return int(parts[5])
    except ValueError:
        return None


class Emr:
    """One EMR's rules. ``name`` is the profile's name (``HRM_SANDBOX_EMR_PROFILE``)."""

    name = ""
    label = ""
    rules_in_words = ""
    # OSCAR's HRMReportParser: the three hashes and the similar-report check (11.3, 11.4).
    oscar_parser = True
    # The routing prefix read in any case (Juno) or exactly (OSCAR, Open-O).
    prefix_any_case = False

    def refusals(self, hrm: HrmFile) -> str:
        """Why this EMR would not file this schema-valid file, in plain words; "" when it files
        it."""
        dropped = oscar_drops(hrm)
        if dropped:
            return f"OSCAR drops this report: {'; '.join(dropped)}."
        return ""

    def author_shown(self, hrm: HrmFile) -> str:
        """The author as this EMR's report page shows it; "" when it shows none."""
        return ""

    def chart_matches(self, hrm: HrmFile, charts: list) -> object | None:
        """The chart a report links to, among the charts with its health card number whose last
        name (ignoring case), sex (ignoring case) and date-of-birth string agree (``charts``,
        oldest first). OSCAR takes the first; Juno overrides."""
        return charts[0] if charts else None

    def facility_notice(self, sending_facility: str) -> str:
        """What this EMR tells its administrator about the report's SendingFacility; ""
        for nothing."""
        return ""

    def is_newer(self, current: ChainEntry, previous: ChainEntry) -> bool:
        """Which of two documents of one version chain (same SendingFacility,
        SendingFacilityReportNumber and DeliverToUserID) the document lists show:
        ``HRMResultsData.isNewer``, which OSCAR's, Open-O's and Juno's ``HRMUtil`` all call.
        First the message date inside HRM's own MessageUniqueID, when both have one; then the
        one that is not cancelled (``ResultStatus`` ``C``); then the one filed later."""
        current_date = _message_date(current.message_unique_id)
        previous_date = _message_date(previous.message_unique_id)
        if None not in (current_date, previous_date) and current_date != previous_date:
            return current_date > previous_date
        current_cancelled = current.result_status == "C"
        previous_cancelled = previous.result_status == "C"
        if current_cancelled != previous_cancelled:
            return previous_cancelled
        return current.document_id > previous.document_id

    def result_status_shown(self, result_status: str) -> str:
        """The result status as the report page says it (OSCAR's ``displayHRMReport.jsp``)."""
        if result_status == "C":
            return "Cancelled"
        return "Signed by the responsible author and Released by health records"
