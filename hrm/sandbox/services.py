"""The stand-in EMR at work: poll the HRM folder as an EMR does, file each report the way OSCAR
does (HRM-FORMAT.md sections 8, 11 and 12), and copy the demo's clinicians and patients into the
EMR's own charts.

What the sandbox checks is what a receiving EMR checks, not what our sender promises: the file is
validated against the v1.1.2 schema only (as OSCAR does while unmarshalling), then OSCAR's
required fields are read. Our sender's stricter rules (``report_validate``) are deliberately not
applied here, so a file another sender would get away with files the way it would in OSCAR: a
``d12345`` recipient lands in the unassigned inbox instead of being refused.
"""

from __future__ import annotations

import functools
import logging
import posixpath
import re
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import paramiko
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from lxml import etree

from directory.models import Listing, User
from hrm.crypto import key_from_hex, report_decrypt
from hrm.report_xml import OBSERVATION_CLASSES, ParsedReport, ReportInvalid, report_parse
from hrm.transports import PART_SUFFIX
from referrals.models import Referral

from .models import EmrDocument, EmrPatient, EmrProvider, EmrRetrievalLog

logger = logging.getLogger(__name__)
Outcome = EmrRetrievalLog.Outcome

# How many of the schema's complaints a refused file's log entry quotes.
_SCHEMA_ERRORS_SHOWN = 5
_NAMESPACE = re.compile(r"\{[^}]*\}")


class SftpLoginLike(Protocol):
    """Where the EMR's HRM folder is (``hrm.sandbox.sftp_server.SftpLogin`` fits)."""

    host: str
    port: int
    user: str
    key_file: Path
    known_hosts_file: Path
    remote_dir: str


@dataclass(frozen=True)
class PollResult:
    """What one poll did: one retrieval log row per file downloaded, in the order handled."""

    retrievals: tuple[EmrRetrievalLog, ...] = ()
    still_uploading: int = 0  # ``.part`` files left alone

    def _count(self, outcome: str) -> int:
        return sum(1 for retrieval in self.retrievals if retrieval.outcome == outcome)

    @property
    def filed(self) -> int:
        return self._count(Outcome.FILED)

    @property
    def duplicate(self) -> int:
        return self._count(Outcome.DUPLICATE)

    @property
    def refused(self) -> int:
        return self._count(Outcome.REFUSED)


@dataclass(frozen=True)
class ChartsSync:
    providers_created: int
    providers_updated: int
    patients_created: int


class _Refused(Exception):
    def __init__(self, words: str, message_unique_id: str = ""):
        super().__init__(words)
        self.words = words
        self.message_unique_id = message_unique_id


# --- Reading a file as an EMR does --------------------------------------------------------------

_SAFE_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": True,
}


@functools.lru_cache(maxsize=4)
def _schema_load(resolved_path: str) -> tuple[etree.XMLSchema, threading.Lock]:
    # The sandbox's own schema object: one shared with the sender's validator would share its
    # error log across threads. Parsed from its path so the relative xs:import resolves.
    parser = etree.XMLParser(**_SAFE_PARSER_OPTIONS)
    return etree.XMLSchema(etree.parse(resolved_path, parser)), threading.Lock()


def _schema() -> tuple[etree.XMLSchema, threading.Lock]:
    path = Path(settings.HRM_SCHEMA).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"HRM schema not found at {path} (setting HRM_SCHEMA)")
    return _schema_load(str(path))


def _schema_errors(xml_bytes: bytes) -> list[str]:
    schema, lock = _schema()
    tree = etree.fromstring(xml_bytes, etree.XMLParser(**_SAFE_PARSER_OPTIONS)).getroottree()
    with lock:
        if schema.validate(tree):
            return []
        entries = list(schema.error_log)
    # "{cds}Gender" reads better as "Gender".
    return [f"line {entry.line}: {_NAMESPACE.sub('', entry.message)}" for entry in entries]


def _report_read(xml_bytes: bytes) -> ParsedReport:
    """The report, or ``_Refused`` with the reason OSCAR would not file it."""
    try:
        parsed = report_parse(xml_bytes)
    except ReportInvalid as invalid:
        raise _Refused(f"The file cannot be read: {'; '.join(invalid.problems)}.") from None
    message_unique_id = parsed.transaction_id
    errors = _schema_errors(xml_bytes)
    if errors:
        shown = "; ".join(errors[:_SCHEMA_ERRORS_SHOWN])
        more = len(errors) - _SCHEMA_ERRORS_SHOWN
        raise _Refused(
            "The file does not follow the HRM schema v1.1.2, so an EMR cannot file it: "
            f"{shown}{f' (and {more} more)' if more > 0 else ''}.",
            message_unique_id,
        )
    # OSCAR reads these before saving anything and drops the report when one is missing.
    problems = []
    if not parsed.report_class.strip():
        problems.append("it has no report class (ReportsReceived/Class)")
    if not parsed.health_card_number.strip():
        problems.append("it has no patient health card number (HealthCard/Number)")
    if parsed.report_class in OBSERVATION_CLASSES:
        if not parsed.observation_datetime:
            problems.append(
                f"a '{parsed.report_class}' has no observation date "
                "(OBRContent/ObservationDateTime)"
            )
    elif not parsed.event_datetime:
        problems.append("it has no report date (EventDateTime)")
    if parsed.recipient_id in ("", "D", "N"):
        problems.append(
            f"its DeliverToUserID '{parsed.recipient_id}' has no licence number to route on"
        )
    if problems:
        raise _Refused(f"OSCAR drops this report: {'; '.join(problems)}.", message_unique_id)
    if not message_unique_id.strip():
        # Our own store needs it (so does Juno, to tell repeats apart).
        raise _Refused("The file has no MessageUniqueID, so a repeat could not be recognised.")
    return parsed


# --- Filing -------------------------------------------------------------------------------------


def _provider_for(deliver_to_user_id: str) -> EmrProvider | None:
    """OSCAR's routing: the first character picks the licence (``D`` CPSO, ``N`` CNO) and is
    case-sensitive, and the rest must equal the provider's number exactly (no trimming, no
    leading zeros dropped)."""
    if deliver_to_user_id[:1] not in ("D", "N"):
        return None
    return EmrProvider.objects.filter(professional_id=deliver_to_user_id).first()


def _chart_for(parsed: ParsedReport) -> EmrPatient | None:
    """OSCAR's patient match: charts with exactly this health card number, then the first whose
    last name (ignoring case), sex (ignoring case) and date-of-birth string all agree. Version
    and province are not compared (OSCAR ignores them)."""
    candidates = EmrPatient.objects.filter(health_card_number=parsed.health_card_number)
    for chart in candidates.order_by("id"):
        if (
            chart.last_name.lower() == parsed.patient_last_name.lower()
            and chart.sex.upper() == parsed.sex.upper()
            and chart.date_of_birth.isoformat() == parsed.date_of_birth
        ):
            return chart
    return None


def _author_name(first: str, last: str) -> str:
    # HRM writes the author HL7-style in LastName (``^LAST^FIRST^^^^``); OSCAR splits it on '^'.
    if "^" in last:
        parts = last.split("^")
        last = parts[1] if len(parts) > 1 else ""
        first = parts[2] if len(parts) > 2 and parts[2] else first
    return " ".join(part for part in (first.strip(), last.strip()) if part)


def _document_fields(parsed: ParsedReport, xml_bytes: bytes, remote_name: str) -> dict:
    provider = _provider_for(parsed.recipient_id)
    recipient_name = " ".join(
        part for part in (parsed.recipient_first_name, parsed.recipient_last_name) if part
    )
    binary = parsed.file_data is not None
    return {
        "message_unique_id": parsed.transaction_id,
        "provider": provider,
        "deliver_to_user_id": parsed.recipient_id,
        "unmatched_provider_id": "" if provider else parsed.recipient_id,
        "unmatched_provider_name": "" if provider else recipient_name,
        "patient": _chart_for(parsed),
        "patient_first_name": parsed.patient_first_name,
        "patient_last_name": parsed.patient_last_name,
        "patient_sex": parsed.sex,
        "patient_date_of_birth": parsed.date_of_birth,
        "patient_health_card_number": parsed.health_card_number,
        "patient_health_card_version": parsed.health_card_version,
        "report_class": parsed.report_class,
        "subclass": parsed.subclass,
        "author_name": _author_name(parsed.author_first_name, parsed.author_last_name),
        "event_datetime": (
            parsed.observation_datetime
            if parsed.report_class in OBSERVATION_CLASSES
            else parsed.event_datetime
        ),
        "sending_facility": parsed.sending_facility,
        "sending_facility_report_number": parsed.sending_facility_report_number,
        "result_status": parsed.result_status,
        "format": EmrDocument.Format.BINARY if binary else EmrDocument.Format.TEXT,
        "text": "" if binary else (parsed.text or ""),
        "file_data": parsed.file_data if binary else None,
        "file_extension": parsed.file_extension,
        "remote_name": remote_name,
        "raw_xml": xml_bytes,
    }


def _locked_document(message_unique_id: str) -> EmrDocument | None:
    return (
        EmrDocument.objects.select_for_update()
        .filter(message_unique_id=message_unique_id)
        .defer("raw_xml", "file_data")
        .first()
    )


def _refused_log(remote_name: str, words: str, message_unique_id: str = "") -> EmrRetrievalLog:
    # The reason stays in the database: it can quote the report (logs carry no patient data).
    logger.warning("HRM sandbox refused %s (the reason is in the retrieval log)", remote_name)
    return EmrRetrievalLog.objects.create(
        file_name=remote_name,
        outcome=Outcome.REFUSED,
        error=words,
        message_unique_id=message_unique_id,
    )


def sandbox_file_report(xml_bytes: bytes, remote_name: str) -> EmrRetrievalLog:
    """File one decrypted HRM file the way OSCAR does and log it; returns the log row, whose
    ``outcome`` is filed, duplicate or refused (``error`` says why, ``document`` is what was
    filed or counted).

    - validated against ``settings.HRM_SCHEMA``; OSCAR's required fields present;
    - routed by ``DeliverToUserID`` (``_provider_for``), else the unassigned inbox with the
      addressee recorded;
    - linked to a chart only when health card number, last name, sex and date of birth all
      match (``_chart_for``), else unlinked;
    - a ``MessageUniqueID`` already filed is counted on that document and not filed again
      (Juno's rule; what makes our sender's retries and re-sends safe).
    """
    try:
        parsed = _report_read(xml_bytes)
    except _Refused as refused:
        return _refused_log(remote_name, refused.words, refused.message_unique_id)
    message_unique_id = parsed.transaction_id
    with transaction.atomic():
        document = _locked_document(message_unique_id)
        if document is None:
            try:
                with transaction.atomic():
                    document = EmrDocument.objects.create(
                        **_document_fields(parsed, xml_bytes, remote_name)
                    )
            except IntegrityError:
                # Another poller filed the same MessageUniqueID a moment ago: a duplicate.
                document = _locked_document(message_unique_id)
                if document is None:
                    raise
            else:
                return EmrRetrievalLog.objects.create(
                    file_name=remote_name,
                    outcome=Outcome.FILED,
                    message_unique_id=message_unique_id,
                    document=document,
                )
        EmrDocument.objects.filter(pk=document.pk).update(
            duplicate_count=F("duplicate_count") + 1, last_duplicate_at=timezone.now()
        )
        return EmrRetrievalLog.objects.create(
            file_name=remote_name,
            outcome=Outcome.DUPLICATE,
            message_unique_id=message_unique_id,
            document=document,
        )


# --- Polling ------------------------------------------------------------------------------------


def _connect(login: SftpLoginLike, timeout: float) -> paramiko.SSHClient:
    """Sign in as the EMR does: its private key only, and the server's host key pinned in the
    login's known_hosts file (OSCAR turns host-key checking off; we need not copy that)."""
    client = paramiko.SSHClient()
    client.load_host_keys(str(login.known_hosts_file))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            login.host,
            int(login.port),
            username=login.user,
            pkey=paramiko.PKey.from_path(login.key_file),
            allow_agent=False,
            look_for_keys=False,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            channel_timeout=timeout,
        )
    except Exception:
        client.close()
        raise
    return client


def _download(sftp: paramiko.SFTPClient, path: str) -> bytes:
    with sftp.open(path, "rb") as remote:
        remote.prefetch()
        return remote.read()


def _consume(data: bytes, remote_name: str, aes_key: str) -> EmrRetrievalLog:
    try:
        xml_bytes = report_decrypt(data, aes_key)
    except ValueError as undecryptable:
        return _refused_log(remote_name, str(undecryptable))
    return sandbox_file_report(xml_bytes, remote_name)


def sandbox_poll(login: SftpLoginLike, aes_key: str, *, timeout: float = 15.0) -> PollResult:
    """One poll of the HRM folder: every final file (oldest first) is downloaded, decrypted,
    filed or refused by ``sandbox_file_report``, then deleted from the server. A name ending
    ``.part`` is still being uploaded and is left alone.

    A file is deleted only once it has been consumed (OntarioMD's rule, HRM-FORMAT.md 12.1):
    if this process dies in between, the next poll downloads it again and counts it as a
    duplicate instead of losing it. A wrong key or a missing schema is the EMR's own set-up
    problem, so it raises before any file is touched; SFTP errors raise too (the next poll
    tries again)."""
    key_from_hex(aes_key)
    _schema()
    client = _connect(login, timeout)
    try:
        sftp = client.open_sftp()
        sftp.get_channel().settimeout(timeout)
        folder = login.remote_dir
        entries = sorted(
            sftp.listdir_attr(folder), key=lambda entry: (entry.st_mtime or 0, entry.filename)
        )
        retrievals, still_uploading = [], 0
        for entry in entries:
            if entry.st_mode is not None and stat.S_ISDIR(entry.st_mode):
                continue
            if entry.filename.endswith(PART_SUFFIX):
                still_uploading += 1
                continue
            path = posixpath.join(folder, entry.filename)
            try:
                data = _download(sftp, path)
            except FileNotFoundError:
                continue  # another poller took it between the listing and now
            retrievals.append(_consume(data, entry.filename, aes_key))
            sftp.remove(path)
        return PollResult(tuple(retrievals), still_uploading)
    finally:
        client.close()


# --- The EMR's charts ---------------------------------------------------------------------------


def sandbox_charts_sync() -> ChartsSync:
    """Give the stand-in EMR the demo's clinicians and patients, idempotently.

    A real EMR has its own provider accounts and patient charts, entered by its own staff; the
    sandbox has none, so it copies them from the product: a provider for every Professional ID
    in the directory (users' Clinical Contact Information and listings' Clinician Information;
    the listing's name wins, as it is the name HRM's Provider element carries), and one chart per
    health card number, copied from the first referral with that card. A chart is never changed
    or copied again once it exists, like a real chart: a later referral that spells the patient
    differently, or a chart edited by hand, shows what an unmatched report looks like."""
    names: dict[str, tuple[str, str]] = {}
    for pid, first, last in User.objects.exclude(professional_id="").values_list(
        "professional_id", "first_name", "last_name"
    ):
        names[pid] = (first, last)
    for pid, first, last in Listing.objects.exclude(clinician_professional_id="").values_list(
        "clinician_professional_id", "clinician_first_name", "clinician_surname"
    ):
        names[pid] = (first, last)
    providers_created = providers_updated = 0
    with transaction.atomic():
        existing = {provider.professional_id: provider for provider in EmrProvider.objects.all()}
        for pid, (first, last) in sorted(names.items()):
            provider = existing.get(pid)
            if provider is None:
                EmrProvider.objects.create(professional_id=pid, first_name=first, last_name=last)
                providers_created += 1
            elif (provider.first_name, provider.last_name) != (first, last):
                provider.first_name, provider.last_name = first, last
                provider.save(update_fields=["first_name", "last_name"])
                providers_updated += 1
        # Runs before every poll, so only referrals whose health card has no chart are read.
        uncharted = (
            Referral.objects.exclude(
                Exists(
                    EmrPatient.objects.filter(
                        health_card_number=OuterRef("patient_health_card_number")
                    )
                )
            )
            .order_by("created_at", "id")
            .values_list(
                "patient_health_card_number",
                "patient_last_name",
                "patient_first_name",
                "patient_sex",
                "patient_birth_date",
                "patient_health_card_version",
                "patient_province",
            )
        )
        new_charts = {}
        for number, last, first, sex, born, version, province in uncharted:
            if number not in new_charts:  # the first referral with this card makes the chart
                new_charts[number] = EmrPatient(
                    health_card_number=number,
                    last_name=last,
                    first_name=first,
                    sex=sex,
                    date_of_birth=born,
                    health_card_version=version,
                    province=province,
                )
        EmrPatient.objects.bulk_create(new_charts.values())
        patients_created = len(new_charts)
    return ChartsSync(providers_created, providers_updated, patients_created)
