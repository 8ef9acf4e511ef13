"""The stand-in EMR files one HRM file: by the rules of the EMR profile in use
(``HRM_SANDBOX_EMR_PROFILE``: Open-O, OSCAR or Juno; HRM-FORMAT.md sections 8, 9, 11 and 12), into
a provider's inbox or the unassigned one, linked to a chart or not, or refused, with one retrieval
log row per file.

What the sandbox checks is what a receiving EMR checks, read from that EMR's public code, not what
our sender promises: the sandbox reads files with its own code (``reading``, ``rules``) and never
with our sender's builder or validator, so a stand-in that agreed with the sender could not hide
a fault they share. A file another sender would get away with files the way it would in that
EMR: a ``d12345`` recipient lands in OSCAR's unassigned inbox instead of being refused.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from hrm.reports.crypto import report_decrypt
from sandbox.emrs import Emr, emr_rules
from sandbox.emrs.base import ChainEntry
from sandbox.models import EmrDocument, EmrPatient, EmrProvider, EmrRetrievalLog
from sandbox.reading import FileUnreadable, HrmFile, hrm_file_read
from sandbox.rules import (
    OBSERVATION_CLASSES,
    ReportForComparison,
    author_as_written,
    content_key,
    file_hashes,
    markup_found,
    similarity,
)

logger = logging.getLogger(__name__)
Outcome = EmrRetrievalLog.Outcome
# Filing is serialised (one sandbox, a handful of files a poll): the hashes and the similar-report
# check compare each file with every report filed before it.
_FILING_LOCK = 0x45_4D_52  # "EMR"


# --- Routing and patient matching ---------------------------------------------------------------


def _provider_for(deliver_to_user_id: str, emr: Emr) -> EmrProvider | None:
    """OSCAR's routing (Open-O's too): the first character picks the licence (``D`` CPSO, ``N``
    CNO) and is case-sensitive, and the rest must equal the provider's number exactly (no
    trimming, no leading zeros dropped). Juno reads the prefix ignoring its case."""
    prefix, number = deliver_to_user_id[:1], deliver_to_user_id[1:]
    if emr.prefix_any_case:
        prefix = prefix.upper()
    if prefix not in ("D", "N"):
        return None
    return EmrProvider.objects.filter(professional_id=prefix + number).first()


def _chart_for(hrm: HrmFile, emr: Emr) -> EmrPatient | None:
    """The patient match: charts with exactly this health card number whose last name (ignoring
    case), sex (ignoring case) and date-of-birth string all agree; then the EMR's own choice
    among them (``Emr.chart_matches``: OSCAR and Open-O take the first, Juno compares version and
    province too and links only when exactly one chart fits)."""
    candidates = EmrPatient.objects.filter(health_card_number=hrm.health_card_number or "")
    charts = [
        chart
        for chart in candidates.order_by("id")
        if chart.last_name.lower() == hrm.patient_last_name.lower()
        and chart.sex.upper() == hrm.sex.upper()
        and chart.date_of_birth.isoformat() == hrm.date_of_birth
    ]
    return emr.chart_matches(hrm, charts)


# --- Filing -------------------------------------------------------------------------------------


def _report_date(hrm: HrmFile) -> str:
    if hrm.report_class in OBSERVATION_CLASSES:
        return hrm.observation_datetime
    return hrm.event_datetime


def _document_fields(hrm: HrmFile, xml_bytes: bytes, remote_name: str, emr: Emr) -> dict:
    provider = _provider_for(hrm.deliver_to_user_id, emr)
    recipient_name = " ".join(
        part for part in (hrm.provider_first_name, hrm.provider_last_name) if part
    )
    binary = hrm.file_data is not None
    text = "" if binary else (hrm.report_text or "")
    hashes = file_hashes(hrm.text) if emr.oscar_parser else None
    return {
        "message_unique_id": hrm.message_unique_id,
        "emr_profile": emr.name,
        "provider": provider,
        "deliver_to_user_id": hrm.deliver_to_user_id,
        "unmatched_provider_id": "" if provider else hrm.deliver_to_user_id,
        "unmatched_provider_name": "" if provider else recipient_name,
        "patient": _chart_for(hrm, emr),
        "patient_first_name": hrm.patient_first_name,
        "patient_last_name": hrm.patient_last_name,
        "patient_sex": hrm.sex,
        "patient_date_of_birth": hrm.date_of_birth,
        "patient_health_card_number": hrm.health_card_number or "",
        "patient_health_card_version": hrm.health_card_version,
        "report_class": hrm.report_class or "",
        "subclass": hrm.subclass,
        "author_name": emr.author_shown(hrm),
        "author_as_written": author_as_written(hrm),
        "event_datetime": _report_date(hrm),
        "sending_facility": hrm.sending_facility,
        "sending_facility_report_number": hrm.sending_facility_report_number,
        "result_status": hrm.result_status or "",
        "format": EmrDocument.Format.BINARY if binary else EmrDocument.Format.TEXT,
        "text": text,
        "text_markup": "" if binary else markup_found(text),
        "file_data": hrm.file_data if binary else None,
        "file_extension": hrm.file_extension,
        "remote_name": remote_name,
        "raw_xml": xml_bytes,
        "report_hash": hashes.report if hashes else "",
        "less_transaction_hash": hashes.less_transaction if hashes else "",
        "less_demographics_hash": hashes.less_demographics if hashes else "",
        "content_key": content_key(text=hrm.report_text, file_data=hrm.file_data) if hashes else "",
        "facility_notice": emr.facility_notice(hrm.sending_facility),
    }


def _locked_document(**lookup) -> EmrDocument | None:
    return (
        EmrDocument.objects.select_for_update()
        .filter(**lookup)
        .defer("raw_xml", "file_data")
        .order_by("id")
        .first()
    )


def _log(remote_name: str, profile, outcome, message_unique_id="", **fields) -> EmrRetrievalLog:
    return EmrRetrievalLog.objects.create(
        file_name=remote_name,
        emr_profile=profile,
        outcome=outcome,
        message_unique_id=message_unique_id,
        **fields,
    )


def _refused_log(remote_name: str, profile, words: str, message_unique_id="") -> EmrRetrievalLog:
    # The reason stays in the database: it can quote the report (logs carry no patient data).
    logger.warning("HRM sandbox refused %s (the reason is in the retrieval log)", remote_name)
    return _log(remote_name, profile, Outcome.REFUSED, message_unique_id, error=words)


def _counted(document: EmrDocument, remote_name, profile, hrm, detail="") -> EmrRetrievalLog:
    EmrDocument.objects.filter(pk=document.pk).update(
        duplicate_count=F("duplicate_count") + 1, last_duplicate_at=timezone.now()
    )
    return _log(
        remote_name,
        profile,
        Outcome.DUPLICATE,
        hrm.message_unique_id,
        document=document,
        detail=detail,
    )


def _routed(document: EmrDocument, remote_name, profile, hrm) -> EmrRetrievalLog:
    """OSCAR's "same report, another recipient": the existing document goes to this recipient's
    inbox too."""
    provider = _provider_for(hrm.deliver_to_user_id, emr_rules(profile))
    if provider is None:
        detail = (
            f"Same report as document #{document.pk} for DeliverToUserID "
            f"'{hrm.deliver_to_user_id}', which no provider of this EMR has: not routed further."
        )
    else:
        if provider.pk != document.provider_id:
            document.also_routed_to.add(provider)
        detail = f"Same report as document #{document.pk}: routed to {provider} as well."
    return _log(
        remote_name,
        profile,
        Outcome.ROUTED,
        hrm.message_unique_id,
        document=document,
        detail=detail,
    )


def _similar_report_check(document: EmrDocument, hrm: HrmFile) -> str:
    """OSCAR's ``doSimilarReportCheck`` (Open-O's too), for a newly filed report: first, the same
    report filed before for another patient; then every report linked to a chart with the
    patient's legal name, oldest first, scored by ``rules.similarity``. The first at 45 or more
    becomes the new report's parent (its own parent if it has one), which hides the new report
    from the document lists. Returns what was done, in words (``""``: still shown)."""
    older = EmrDocument.objects.exclude(pk=document.pk).defer("raw_xml", "file_data")
    same_report = older.filter(less_demographics_hash=document.less_demographics_hash).first()
    if same_report is not None:
        parent_id = same_report.pk
        reason = (
            f"The same report as document #{same_report.pk}, sent for another patient (OSCAR's "
            "hash of the file without its Demographics): filed under it."
        )
        EmrDocument.objects.filter(pk=document.pk).update(
            similar_to=parent_id, hidden_reason=reason
        )
        return reason
    new = ReportForComparison(
        document.content_key, hrm.result_status, hrm.report_class or "", _report_date(hrm)
    )
    same_name = older.filter(
        patient__isnull=False,
        patient__last_name__iexact=hrm.patient_last_name,
        patient__first_name__iexact=hrm.patient_first_name,
    ).order_by("id")
    fields = (
        "pk",
        "similar_to_id",
        "content_key",
        "result_status",
        "report_class",
        "event_datetime",
    )
    for pk, parent, key, status, report_class, report_date in same_name.values_list(*fields):
        # Stored as "" when the file had none; the new report's status is compared with it.
        score = similarity(new, ReportForComparison(key, status, report_class, report_date))
        if score.similar:
            parent_id = parent or pk
            reason = (
                f"Scored {score.score} against document #{pk} ({score.words}; 45 or more "
                "counts as a changed version)."
            )
            if parent_id != pk:
                reason += f" That one is itself filed under document #{parent_id}."
            EmrDocument.objects.filter(pk=document.pk).update(
                similar_to=parent_id, similarity_score=score.score, hidden_reason=reason
            )
            return reason
    return ""


def _version_chain_update(document: EmrDocument, emr: Emr) -> str:
    """Place a newly filed document in its version chain (same SendingFacility,
    SendingFacilityReportNumber and DeliverToUserID): the chain's documents, oldest first, are
    compared as the EMR's ``HRMUtil.filterDuplicates`` compares them (``Emr.is_newer``); the one
    it keeps is current, every other one becomes its prior version. Returns what was done, in
    words ("" when the document is alone in its chain)."""
    chain = list(
        EmrDocument.objects.filter(
            emr_profile=document.emr_profile,
            sending_facility=document.sending_facility,
            sending_facility_report_number=document.sending_facility_report_number,
            deliver_to_user_id=document.deliver_to_user_id,
            similar_to__isnull=True,
        )
        .order_by("id")
        .values_list("pk", "message_unique_id", "result_status")
    )
    if len(chain) < 2:
        return ""
    entries = [ChainEntry(pk, unique_id, status) for pk, unique_id, status in chain]
    current = entries[0]
    for entry in entries[1:]:
        if emr.is_newer(entry, current):
            current = entry
    others = [entry.document_id for entry in entries if entry is not current]
    EmrDocument.objects.filter(pk__in=others).update(current_version=current.document_id)
    EmrDocument.objects.filter(pk=current.document_id).update(current_version=None)
    if current.document_id == document.pk:
        listed = ", ".join(f"#{pk}" for pk in others)
        return (
            f"A new version of report {document.sending_facility_report_number}: shown in "
            f"place of {listed}, kept as prior version{'s' if len(others) > 1 else ''}."
        )
    return (
        f"Another version of report {document.sending_facility_report_number}: kept as a prior "
        f"version of document #{current.document_id}, which stays shown."
    )


def _serialise_filing() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_FILING_LOCK])


def sandbox_file_report(
    xml_bytes: bytes, remote_name: str, *, profile: str | None = None
) -> EmrRetrievalLog:
    """File one decrypted HRM file by the rules of ``profile`` (default: the
    ``HRM_SANDBOX_EMR_PROFILE`` setting) and log it; returns the log row, whose ``outcome`` is
    filed, duplicate, routed or refused (``error`` says why it was refused, ``detail`` what else
    was done, ``document`` is what was filed, counted or routed).

    Every profile: the v1.1.2 schema; a ``MessageUniqueID`` already filed is counted on that
    document and not filed again (Juno's rule, and what makes our sender's retries safe; OSCAR
    would catch an identical retry by its hash). Then by the EMR's rules (its module under
    ``sandbox.emrs``):

    - ``oscar``: OSCAR's required fields (else dropped); an identical file under another
      MessageUniqueID is a duplicate; the same report for another recipient is routed to them
      (``also_routed_to``); a new report goes through the similar-report check and may be filed
      under an older one and hidden (``similar_to``, ``hidden_reason``);
    - ``open-o``: as OSCAR, after Open-O's refusals (empty required element, text extension,
      binary extension and content, date of birth);
    - ``juno``: ``Format`` required; case-insensitive routing prefix; province and version
      compared in the patient match.

    Routing by ``DeliverToUserID`` (``_provider_for``), else the unassigned inbox with the
    addressee recorded; linked to a chart only on a full match (``_chart_for``), else unlinked.
    """
    emr = emr_rules(profile)
    profile = emr.name
    try:
        hrm = hrm_file_read(xml_bytes)
    except FileUnreadable as unreadable:
        return _refused_log(remote_name, profile, unreadable.words, unreadable.message_unique_id)
    words = emr.refusals(hrm)
    if words:
        return _refused_log(remote_name, profile, words, hrm.message_unique_id)
    message_unique_id = hrm.message_unique_id
    if not message_unique_id:
        # Our own store needs it (so does Juno, to tell repeats apart).
        return _refused_log(
            remote_name,
            profile,
            "The file has no MessageUniqueID, so a repeat could not be recognised.",
        )
    with transaction.atomic():
        _serialise_filing()
        document = _locked_document(message_unique_id=message_unique_id)
        if document is not None:
            return _counted(document, remote_name, profile, hrm)
        if emr.oscar_parser:
            hashes = file_hashes(hrm.text)
            same = _locked_document(report_hash=hashes.report)
            if same is not None:
                detail = (
                    f"The same file as document #{same.pk} under another MessageUniqueID "
                    "(OSCAR's hash of the file without it): counted, not filed again."
                )
                return _counted(same, remote_name, profile, hrm, detail)
            same = _locked_document(less_transaction_hash=hashes.less_transaction)
            if same is not None:
                return _routed(same, remote_name, profile, hrm)
        try:
            with transaction.atomic():
                document = EmrDocument.objects.create(
                    **_document_fields(hrm, xml_bytes, remote_name, emr)
                )
        except IntegrityError:
            # Another poller filed the same MessageUniqueID a moment ago: a duplicate.
            document = _locked_document(message_unique_id=message_unique_id)
            if document is None:
                raise
            return _counted(document, remote_name, profile, hrm)
        detail = _similar_report_check(document, hrm) if emr.oscar_parser else ""
        # A report filed under another by the similar-report check is left out of the document
        # lists before they group versions (``parentReport IS NULL``): it joins no chain.
        chain = "" if detail else _version_chain_update(document, emr)
        detail = " ".join(part for part in (detail, chain) if part)
        return _log(
            remote_name, profile, Outcome.FILED, message_unique_id, document=document, detail=detail
        )


def sandbox_file_download(
    data: bytes, remote_name: str, aes_key: str, *, profile: str | None = None
) -> EmrRetrievalLog:
    """File one file as downloaded from HRM's folder: decrypted with ``aes_key``, then
    ``sandbox_file_report``; a file that does not decrypt is refused and logged."""
    profile = emr_rules(profile).name
    try:
        xml_bytes = report_decrypt(data, aes_key)
    except ValueError as undecryptable:
        return _refused_log(remote_name, profile, str(undecryptable))
    return sandbox_file_report(xml_bytes, remote_name, profile=profile)
