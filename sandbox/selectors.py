"""Reads for the sandbox EMR's pages. Every page starts with one of the ``*_or_404`` guards: the
pages exist only while ``HRM_SANDBOX_ENABLED`` is on."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet
from django.db.models.functions import Length
from django.http import Http404
from django.shortcuts import get_object_or_404

from hrm.delivery.errors import error_classify, report_error_for_reader
from hrm.delivery.transports import remote_name_for
from hrm.models import ErrorClass, HrmReport

from .emrs import emr_rules
from .models import EmrDocument, EmrProvider, EmrRetrievalLog

# The newest this many documents or log rows are shown; the sandbox is a demo, not an archive.
PAGE_ROWS = 200


def sandbox_enabled_or_404() -> None:
    """The sandbox inbox shows every filed report to any signed-in user, so it is off unless
    explicitly on (the demo and the tests turn it on)."""
    if not settings.HRM_SANDBOX_ENABLED:
        raise Http404("The HRM sandbox is not enabled.")


def emr_provider_get_or_404(provider_id: int) -> EmrProvider:
    sandbox_enabled_or_404()
    return get_object_or_404(EmrProvider, pk=provider_id)


def emr_document_file_get_or_404(document_id: int) -> EmrDocument:
    """A binary document with its bytes; text documents have no file to download."""
    sandbox_enabled_or_404()
    return get_object_or_404(
        EmrDocument.objects.defer("raw_xml"), pk=document_id, format=EmrDocument.Format.BINARY
    )


def emr_profile_in_use() -> dict:
    """The profile the sandbox files new reports by, and its rules in words, for every page."""
    emr = emr_rules()
    return {"profile": emr.name, "profile_label": emr.label, "profile_rules": emr.rules_in_words}


def _counts(queryset, key: str) -> dict:
    return {
        row[key]: row
        for row in queryset.values(key).annotate(
            document_count=Count(
                "pk",
                filter=Q(
                    **{
                        f"{_document(key)}similar_to__isnull": True,
                        f"{_document(key)}current_version__isnull": True,
                    }
                ),
            ),
            hidden_count=Count("pk", filter=Q(**{f"{_document(key)}similar_to__isnull": False})),
            unlinked_count=Count("pk", filter=Q(**{f"{_document(key)}patient__isnull": True})),
        )
    }


def _document(key: str) -> str:
    return "" if key == "provider" else "emrdocument__"


def emr_providers_with_counts() -> list[EmrProvider]:
    """Every provider with, for their inbox (documents routed to them, first or as another
    recipient of the same report): ``document_count`` shown in the document list,
    ``hidden_count`` filed under another report and left out of it, ``unlinked_count`` not
    linked to a chart."""
    direct = _counts(EmrDocument.objects.filter(provider__isnull=False), "provider")
    routed = _counts(EmrDocument.also_routed_to.through.objects.all(), "emrprovider")
    providers = list(EmrProvider.objects.order_by("last_name", "first_name", "professional_id"))
    for provider in providers:
        for name in ("document_count", "hidden_count", "unlinked_count"):
            total = sum(rows.get(provider.pk, {}).get(name, 0) for rows in (direct, routed))
            setattr(provider, name, total)
    return providers


def emr_unassigned_counts() -> dict:
    unassigned = EmrDocument.objects.filter(provider__isnull=True)
    return unassigned.aggregate(
        document_count=Count("id", filter=Q(similar_to__isnull=True, current_version__isnull=True)),
        hidden_count=Count("id", filter=Q(similar_to__isnull=False)),
        unlinked_count=Count("id", filter=Q(patient__isnull=True)),
    )


def emr_inbox_documents(provider: EmrProvider | None) -> QuerySet[EmrDocument]:
    """One inbox, newest first: a provider's (filed for them, or routed to them as another
    recipient of the same report), or the unassigned inbox for ``None``: the current document of
    each version chain, with its ``prior_versions``, newest first. Hidden documents are included
    (the page marks them). The file bytes stay in the database; only their size is read."""
    if provider is None:
        documents = EmrDocument.objects.filter(provider__isnull=True)
    else:
        routed = EmrDocument.also_routed_to.through.objects.filter(emrprovider=provider)
        documents = EmrDocument.objects.filter(
            Q(provider=provider) | Q(pk__in=routed.values("emrdocument"))
        )
    priors = _documents_shown(EmrDocument.objects.all()).order_by("-id")
    return (
        _documents_shown(documents.filter(current_version__isnull=True))
        .prefetch_related(Prefetch("prior_versions", queryset=priors))
        .order_by("-received_at", "-id")[:PAGE_ROWS]
    )


def _documents_shown(documents: QuerySet[EmrDocument]) -> QuerySet[EmrDocument]:
    return (
        documents.select_related("patient", "provider", "similar_to")
        .defer("raw_xml", "file_data", "similar_to__raw_xml", "similar_to__file_data")
        .annotate(file_size=Length("file_data"))
    )


def emr_retrieval_log() -> QuerySet[EmrRetrievalLog]:
    return EmrRetrievalLog.objects.select_related("document").defer(
        "document__raw_xml", "document__file_data"
    )[:PAGE_ROWS]


def emr_refused_count() -> int:
    return EmrRetrievalLog.objects.filter(outcome=EmrRetrievalLog.Outcome.REFUSED).count()


def emr_provider_of_user(user) -> EmrProvider | None:
    """The signed-in clinician's own provider in the sandbox EMR: the one holding their
    Professional ID, as HRM routes by it."""
    if not user.professional_id:
        return None
    return EmrProvider.objects.filter(professional_id=user.professional_id).first()


# What HRM's server says when it refuses a file (as the delivery recorded it): a file refused
# for its recipient, or every file refused for as long as the delivery waits.
_HRM_REFUSALS = (ErrorClass.RECIPIENT, ErrorClass.PERMISSION)


@dataclass(frozen=True)
class Refusal:
    """A file that never reached an inbox: refused by HRM's server before any EMR could fetch
    it, or fetched and refused by this EMR."""

    at: datetime | None
    by_hrm: bool
    transaction_id: str
    file_name: str
    reason: str


def emr_refusals(user, provider: EmrProvider | None = None) -> list[Refusal]:
    """Files refused on their way to ``provider`` (every provider for ``None``), newest first:
    those HRM's (sandbox) server refused, as our delivery recorded them, beside those this EMR
    downloaded and refused. The EMR's own refusals are matched to a provider by the file names
    our reports to them were uploaded under; with ``None``, every refused file is listed."""
    reports = HrmReport.objects.filter(status=HrmReport.Status.FAILED).order_by(
        "-last_attempt_at", "-id"
    )
    if provider is not None:
        reports = reports.filter(deliver_to_user_id=provider.professional_id)
    staff = user.is_staff
    refusals = [
        Refusal(
            at=report.last_attempt_at,
            by_hrm=True,
            transaction_id=report.transaction_id,
            file_name=remote_name_for(report.transaction_id),
            reason=report_error_for_reader(report, staff=staff),
        )
        for report in reports[:PAGE_ROWS]
        if error_classify(report.last_error) in _HRM_REFUSALS
    ]
    refused = EmrRetrievalLog.objects.filter(outcome=EmrRetrievalLog.Outcome.REFUSED)
    if provider is not None:
        sent_to_provider = HrmReport.objects.filter(
            deliver_to_user_id=provider.professional_id
        ).values_list("transaction_id", flat=True)
        refused = refused.filter(
            file_name__in=[remote_name_for(tid) for tid in sent_to_provider.iterator()]
        )
    refusals += [
        Refusal(
            at=entry.retrieved_at,
            by_hrm=False,
            transaction_id=entry.message_unique_id,
            file_name=entry.file_name,
            reason=entry.error,
        )
        for entry in refused[:PAGE_ROWS]
    ]
    return sorted(refusals, key=lambda r: r.at.timestamp() if r.at else 0, reverse=True)
