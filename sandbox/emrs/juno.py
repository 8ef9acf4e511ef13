"""Juno (junoemr/junoemr, HRM 4.3 code): a repeated MessageUniqueID is a duplicate (no OSCAR
hashes, no similar-report check), ``Format`` is required, the routing prefix is read in any case,
patients match on province and health card version too and only when exactly one chart fits. Its
``HRMUtil`` lists documents through OSCAR's ``HRMResultsData.isNewer``: one document per version
chain, as in OSCAR."""

from __future__ import annotations

from sandbox.reading import HrmFile

from .base import Emr


def _province(code: str) -> str:
    return code.strip().upper().removeprefix("CA-")


class Juno(Emr):
    name = "juno"
    label = "Juno"
    rules_in_words = (
        "the v1.1.2 schema; Format required; a repeated MessageUniqueID is a duplicate; the "
        "routing prefix read in any case; the patient matched on province and health card "
        "version too, and only when exactly one chart fits; one document per version chain."
    )
    oscar_parser = False
    prefix_any_case = True

    def refusals(self, hrm: HrmFile) -> str:
        if hrm.format is None:
            return "Juno cannot file this report: it has no Format (Text or Binary)."
        return ""

    def author_shown(self, hrm: HrmFile) -> str:
        """``HRMReport_4_3.getAuthorPhysician``: the non-empty parts of ``LastName`` only."""
        last, first = hrm.author_last_name, hrm.author_first_name
        if last is None and first is None:
            return ""
        parts = [part for part in (last or "").split("^") if part]
        return " ".join(part.strip() for part in parts if part.strip())

    def chart_matches(self, hrm: HrmFile, charts: list) -> object | None:
        matches = []
        for chart in charts:
            if hrm.health_card_version and (
                chart.health_card_version.upper() != hrm.health_card_version.upper()
            ):
                continue
            if hrm.health_card_province and _province(chart.province) != _province(
                hrm.health_card_province
            ):
                continue
            matches.append(chart)
        return matches[0] if len(matches) == 1 else None
