"""Reading a built file back safely (no network, no entities, bounded size), for the validator.
Reading a file as an EMR does is the receiving side's business (the sandbox has its own reader),
so a reader sharing these assumptions cannot hide a fault in the builder."""

from __future__ import annotations

import threading

from lxml import etree

from hrm.error_classes import ErrorClass


class ReportInvalid(ValueError):
    """The file is not one the EMRs would file correctly; ``problems`` says why, in plain words."""

    error_class = ErrorClass.INVALID

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


# Big enough for the product's largest attachment (10 MB, 13.4 MB once base64-encoded) with room
# to spare; anything larger is refused before it is parsed.
MAX_FILE_BYTES = 32 * 1024 * 1024


def _safe_parser() -> etree.XMLParser:
    # Whatever the bytes hold: no network, no DTD, no entity expansion. ``huge_tree`` lifts
    # libxml2's 10 MB limit on one text node, which a base64-encoded attachment of 7.5 MB already
    # reaches; MAX_FILE_BYTES bounds the input instead.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)


_parsers = threading.local()  # a parser is reusable but must not be shared between threads


def _thread_parser() -> etree.XMLParser:
    parser = getattr(_parsers, "parser", None)
    if parser is None:
        parser = _parsers.parser = _safe_parser()
    return parser


def file_size_check(size: int) -> None:
    """Raise ``ReportInvalid`` for a file larger than any receiver takes."""
    if size > MAX_FILE_BYTES:
        raise ReportInvalid(
            [f"the file is {size:,} bytes; at most {MAX_FILE_BYTES:,} are accepted"]
        )


def _parse(xml_bytes: bytes) -> etree._ElementTree:
    if not isinstance(xml_bytes, bytes):
        raise TypeError("An HRM file is bytes (UTF-8 XML), not text.")
    file_size_check(len(xml_bytes))
    try:
        root = etree.fromstring(xml_bytes, _thread_parser())
    except etree.XMLSyntaxError as exc:
        raise ReportInvalid(
            [f"the file is not well-formed XML, so no EMR can read it ({exc})"]
        ) from exc
    tree = root.getroottree()
    if tree.docinfo.doctype:
        raise ReportInvalid(["the file must not contain a DOCTYPE declaration"])
    return tree


def _local(tag: str) -> str:
    return tag[tag.index("}") + 1 :] if tag[:1] == "{" else tag


class _Fields:
    """The elements below one node, found by local-name path (``ReportsReceived/Class``) in one
    pass over the tree. Like OSCAR and Juno, only the first of repeated elements is looked into;
    ``count`` tells how many there were."""

    def __init__(self, node: etree._Element | None):
        self._by_path: dict[str, list[etree._Element]] = {}
        if node is not None:
            self._index(node, "")

    def _index(self, node: etree._Element, prefix: str) -> None:
        for child in node:
            if not isinstance(child.tag, str):
                continue  # comments and processing instructions
            path = prefix + _local(child.tag)
            same = self._by_path.get(path)
            if same is None:
                self._by_path[path] = [child]
                if len(child):
                    self._index(child, path + "/")
            else:
                same.append(child)

    def get(self, path: str) -> etree._Element | None:
        found = self._by_path.get(path)
        return found[0] if found else None

    def count(self, path: str) -> int:
        return len(self._by_path.get(path, ()))

    def has(self, path: str) -> bool:
        return path in self._by_path

    def text(self, path: str) -> str:
        found = self.get(path)
        return "" if found is None or found.text is None else found.text

    def date(self, path: str) -> str:
        """The value of a date-full-or-partial element, whichever of its four forms it uses."""
        found = self.get(path)
        if found is None:
            return ""
        for child in found:
            if isinstance(child.tag, str):
                return child.text or ""
        return ""
