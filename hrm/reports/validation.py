"""``report_validate(xml_bytes, schema_path)``: the v1.1.2 schema plus the receivers' rules
(``hrm.reports.rules``, HRM-FORMAT.md section 14), raising ``ReportInvalid`` with the problems in
plain words, one per field."""

from __future__ import annotations

import functools
import re
import threading
from pathlib import Path

from lxml import etree

from hrm.reports.problems import _PATIENT_KEYS, _TYPE_WORDS, _key, _label, _Problem, _withhold
from hrm.reports.reading import ReportInvalid, _parse, _safe_parser
from hrm.reports.rules import _rule_problems
from hrm.reports.types import _cds


@functools.lru_cache(maxsize=8)
def _schema_load(resolved_path: str) -> tuple[etree.XMLSchema, threading.Lock]:
    # Parsed from its path so the relative xs:import of report_manager_dt.xsd resolves. A schema
    # object keeps one error log, so validations through it are serialised by the lock.
    document = etree.parse(resolved_path, _safe_parser())
    return etree.XMLSchema(document), threading.Lock()


_schemas_by_setting: dict[str, tuple[etree.XMLSchema, threading.Lock]] = {}


def _schema_for(schema_path: str | Path) -> tuple[etree.XMLSchema, threading.Lock]:
    setting = str(schema_path)
    found = _schemas_by_setting.get(setting)  # skip resolving the path on every report
    if found is None:
        path = Path(schema_path).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"HRM schema not found at {path}")
        found = _schemas_by_setting[setting] = _schema_load(str(path))
    return found


def schema_load(schema_path: str | Path) -> etree.XMLSchema:
    """The parsed v1.1.2 schema, cached per path (raises ``OSError`` if the file is missing)."""
    return _schema_for(schema_path)[0]


_EXPECTED = re.compile(r"\{[^}]*\}(\w+)")


def _schema_problem(tree: etree._ElementTree, entry: etree._LogEntry) -> _Problem:
    message = entry.message
    element = None
    if entry.path:
        prefixes = {p: uri for p, uri in tree.getroot().nsmap.items() if p}
        try:
            found = tree.xpath(entry.path, namespaces=prefixes)
            element = found[0] if found else None
        except etree.XPathError:
            element = None
    if element is not None:
        key = _key(element)
    else:
        named = re.match(r"Element '(?:\{[^}]*\})?(\w+)'", message)
        key = named[1] if named else "OmdCds"
    label = _label(key)
    patient = key.startswith(_PATIENT_KEYS)
    detail = _withhold(message) if patient else message
    detail = f"{detail} (line {entry.line})"
    body = message.split("': ", 1)[-1]

    expected = _EXPECTED.findall(body.split("Expected is", 1)[1]) if "Expected is" in body else []
    if "Missing child element" in body and expected:
        child_key = f"{key}/{expected[0]}" if element is not None else expected[0]
        return _Problem(child_key, f"{_label(child_key)} is missing", [detail])
    if "This element is not expected" in body:
        if expected and element is not None:
            parent = element.getparent()
            parent_key = _key(parent) if parent is not None else ""
            missing = f"{parent_key}/{expected[0]}".lstrip("/")
            return _Problem(
                missing,
                f"{_label(missing)} is missing or out of order (found {label} in its place)",
                [detail],
            )
        return _Problem(key, f"{label} is not allowed at this place in an HRM file", [detail])
    if match := re.search(
        r"length of '(\d+)'; this exceeds the allowed maximum length of '(\d+)'", body
    ):
        return _Problem(
            key,
            f"{label} is too long: it has {match[1]} characters, at most {match[2]} are allowed",
            [detail],
        )
    if "[facet 'minLength']" in body:
        return _Problem(key, f"{label} is empty", [detail])
    if match := re.search(r"The value '(.*)' is not an element of the set \{(.*)\}", body):
        allowed = [item.strip(" '") for item in match[2].split(",")]
        shown = "" if patient else f", not '{match[1]}'"
        if len(allowed) <= 8:
            return _Problem(key, f"{label} must be one of {', '.join(allowed)}{shown}", [detail])
        return _Problem(key, f"{label} is not an allowed value{shown}", [detail])
    if match := re.search(r"is not a valid value of the atomic type 'xs:(\w+)'", body):
        words = _TYPE_WORDS.get(match[1], f"a valid {match[1]}")
        return _Problem(key, f"{label} is not {words}", [detail])
    if match := re.search(r"does not match the fixed value constraint '([^']*)'", body):
        return _Problem(key, f"{label} must be '{match[1]}'", [detail])
    return _Problem(key, f"{label} does not meet the HRM schema", [detail])


_DECLARATION = re.compile(
    rb"""<\?xml version=["']1\.0["'] encoding=["']utf-8["']"""
    rb"""(?: standalone=["'](?:yes|no)["'])?\?>""",
    re.IGNORECASE,
)


def _serialisation_problems(xml_bytes: bytes, tree: etree._ElementTree) -> list[_Problem]:
    """Row 2 and 3 of the conformance table: default namespace, one compact UTF-8 line."""
    problems = []
    declaration = _DECLARATION.match(xml_bytes)
    if not declaration:
        problems.append(
            _Problem("OmdCds", 'the file must begin with <?xml version="1.0" encoding="UTF-8"?>')
        )
    elif not xml_bytes.startswith(b"<", declaration.end()):  # no copy of the file
        problems.append(
            _Problem(
                "OmdCds",
                "the file must be one line: nothing between the declaration and the root element",
            )
        )
    root = tree.getroot()
    if root.tag != _cds("OmdCds") or root.prefix is not None:
        problems.append(
            _Problem("OmdCds", "the root element must be OmdCds in the default namespace 'cds'")
        )
    loose = False
    for element in root.iter():
        tag = element.tag
        if not isinstance(tag, str):
            continue  # comments and processing instructions
        if tag.startswith("{cds}") and (element.prefix is not None or element.attrib):
            problems.append(
                _Problem(
                    _key(element),
                    f"{_label(_key(element))} must be written as a plain "
                    f"<{etree.QName(element).localname}> tag with no prefix and no attributes "
                    "(OSCAR's duplicate checks look for exactly that)",
                )
            )
        if tag.startswith("{cds_dt}") and element.prefix is None:
            problems.append(
                _Problem(_key(element), f"{_label(_key(element))} must use a cds_dt prefix")
            )
        if len(element) and element.text:
            loose = True  # whitespace between elements (other text is a schema error)
        if element.tail and element is not root:
            loose = True
    if loose:
        problems.append(
            _Problem(
                "OmdCds",
                "the file must be written compactly on one line with nothing between elements "
                "(OSCAR's duplicate checks do not work on indented files)",
            )
        )
    return problems


def _merge(rules: list[_Problem], schema: list[_Problem]) -> list[str]:
    """One message per field: a rule's words win, the schema's raw detail is appended to them."""
    by_key = {problem.key: problem for problem in rules}
    merged = list(rules)
    for problem in schema:
        same = by_key.get(problem.key)
        if same is not None:
            same.details.extend(problem.details)
        else:
            by_key[problem.key] = problem
            merged.append(problem)
    return [problem.render() for problem in merged]


def report_validate(xml_bytes: bytes, schema_path: str | Path) -> None:
    """Raise ``ReportInvalid`` unless the file passes the v1.1.2 schema and the receivers' rules.

    ``problems`` are plain words a clinician or support person can act on; where the schema
    complained, its raw message (patient values withheld) is appended in brackets.
    """
    schema, lock = _schema_for(schema_path)
    tree = _parse(xml_bytes)
    with lock:
        valid = schema.validate(tree)
        entries = [] if valid else list(schema.error_log)
    schema_problems = [_schema_problem(tree, entry) for entry in entries]
    rule_problems = _serialisation_problems(xml_bytes, tree) + _rule_problems(tree)
    problems = _merge(rule_problems, schema_problems)
    if problems:
        raise ReportInvalid(problems)
