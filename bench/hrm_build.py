"""How fast HRM report files are built and validated, next to bare lxml on the same tree.

Run from the repository root: ``.venv/bin/python bench/hrm_build.py``. No Django, no network;
each measurement stops after about a second (or a fixed number of rounds).

Printed per report kind (a typed letter, a PDF attachment):
- built+validated/s: ``report_build`` then ``report_validate`` (schema + receiver rules) on the
  whole file;
- as the worker does/s: ``report_file_build``, ``report_validate`` on the file with its base64
  cut to the head, then the whole file written (``report_xml_build`` without the database);
- built/s: ``report_build`` alone (dataclasses -> cleaned text -> lxml tree -> bytes);
- bare lxml/s: the same tree made with bare ``SubElement`` calls from ready strings and
  serialised; and bare serialisation/s of the finished tree alone. Ratios are ours / bare.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lxml import etree  # noqa: E402

from hrm.reports.build import report_build, report_file_build  # noqa: E402
from hrm.reports.types import (  # noqa: E402
    XML_DECLARATION,
    Report,
    ReportFile,
    ReportPatient,
    ReportPerson,
    ReportRecipient,
    ReportText,
)
from hrm.reports.validation import report_validate, schema_load  # noqa: E402

SCHEMA = ROOT.parent / "shared/hrm-schema/report_manager_v1.1.2/report_manager.xsd"
SECONDS = 1.0
MAX_ROUNDS = 50_000


def sample_reports() -> dict[str, Report]:
    letter = "\n".join(
        f"Paragraph {n}: Mme Hélène Tremblay was seen today; BP 120/80 & plan <MRI> reviewed."
        for n in range(30)
    )  # about 2.6 KB of text
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 200  # about 51 KB
    larger = b"%PDF-1.7\n" + bytes(range(256)) * 800  # about 200 KB, as bench/delivery.py sends
    base = dict(
        patient=ReportPatient("Hélène", "Tremblay", date(1980, 2, 3), "F", "1234567890", "AB"),
        author=ReportPerson("Ann", "Lee"),
        recipient=ReportRecipient("D12345", "Raj", "Patel"),
        event_datetime=datetime(2024, 1, 5, 14, 30, tzinfo=UTC),
        sending_facility="1234",
        sending_facility_report_number="MSG-42-1",
        transaction_id="MSG-42-1-D12345",
    )
    return {
        "letter (text)": Report(content=ReportText(letter), **base),
        "attachment (51 KB PDF)": Report(content=ReportFile(pdf, ".pdf"), **base),
        "attachment (200 KB PDF)": Report(content=ReportFile(larger, ".pdf"), **base),
    }


def rate(action) -> float:
    """Calls per second, measured for about SECONDS (after one warm-up call)."""
    action()
    rounds, started = 0, time.perf_counter()
    deadline = started + SECONDS
    while rounds < MAX_ROUNDS:
        action()
        rounds += 1
        if time.perf_counter() >= deadline:
            break
    return rounds / (time.perf_counter() - started)


def tree_recipe(xml: bytes) -> list[tuple[int, str, str | None, dict[str, str]]]:
    """(parent index, tag, text, attributes) for every element, in document order."""
    root = etree.fromstring(xml)
    index = {root: -1}
    recipe = []
    for position, element in enumerate(root.iter()):
        parent = element.getparent()
        recipe.append((index.get(parent, -1), element.tag, element.text, dict(element.attrib)))
        index[element] = position
    return recipe


def bare_lxml(recipe, nsmap) -> bytes:
    """The same tree from ready strings with bare SubElement calls, then serialised."""
    _, tag, text, attrib = recipe[0]
    nodes = [etree.Element(tag, attrib, nsmap=nsmap)]
    for parent, tag, text, attrib in recipe[1:]:
        node = etree.SubElement(nodes[parent], tag, attrib)
        node.text = text
        nodes.append(node)
    return XML_DECLARATION + etree.tostring(nodes[0], encoding="UTF-8")


def main() -> None:
    if not SCHEMA.is_file():
        sys.exit(f"HRM schema not found at {SCHEMA}")
    schema_load(SCHEMA)  # parse once, as a long-running worker does
    nsmap = {None: "cds", "cdsd": "cds_dt"}
    print(f"lxml {etree.__version__}, libxml2 {'.'.join(map(str, etree.LIBXML_VERSION))}")
    for kind, report in sample_reports().items():
        xml = report_build(report)
        recipe = tree_recipe(xml)
        assert bare_lxml(recipe, nsmap) == xml, "the bare tree must be the same tree"
        finished = etree.fromstring(xml)

        def build_and_validate(report=report):
            report_validate(report_build(report), SCHEMA)

        def as_the_worker_does(report=report):
            built = report_file_build(report)
            report_validate(built.checked, SCHEMA)
            return built.whole()

        assert as_the_worker_does() == xml
        checked = rate(build_and_validate)
        worker = rate(as_the_worker_does)
        built = rate(lambda report=report: report_build(report))
        bare = rate(lambda recipe=recipe: bare_lxml(recipe, nsmap))
        serialised = rate(lambda finished=finished: etree.tostring(finished, encoding="UTF-8"))
        print(f"\n{kind}: {len(xml):,} bytes, {len(recipe)} elements")
        print(f"  built+validated   {checked:9,.0f} reports/s  ({1e6 / checked:6.1f} us each)")
        print(f"  as the worker does{worker:9,.0f} reports/s  ({1e6 / worker:6.1f} us each)")
        print(f"  built             {built:9,.0f} reports/s  ({1e6 / built:6.1f} us each)")
        print(
            f"  bare lxml build+serialise {bare:9,.0f}/s   bare serialise only {serialised:9,.0f}/s"
        )
        print(f"  ratio built/bare build+serialise          {built / bare:5.2f}")
        print(f"  ratio built+validated/bare build+serialise {checked / bare:5.2f}")
        print(f"  ratio built+validated/bare serialise only  {checked / serialised:5.2f}")


if __name__ == "__main__":
    main()
