"""Reads for the sandbox EMR's pages. Every page starts with one of the ``*_or_404`` guards: the
pages exist only while ``HRM_SANDBOX_ENABLED`` is on."""

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Length
from django.http import Http404
from django.shortcuts import get_object_or_404

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


def _counts() -> dict:
    return {
        "document_count": Count("documents"),
        "unlinked_count": Count("documents", filter=Q(documents__patient__isnull=True)),
    }


def emr_providers_with_counts() -> QuerySet[EmrProvider]:
    return EmrProvider.objects.annotate(**_counts()).order_by(
        "last_name", "first_name", "professional_id"
    )


def emr_unassigned_counts() -> dict:
    unassigned = EmrDocument.objects.filter(provider__isnull=True)
    return unassigned.aggregate(
        document_count=Count("id"), unlinked_count=Count("id", filter=Q(patient__isnull=True))
    )


def emr_inbox_documents(provider: EmrProvider | None) -> QuerySet[EmrDocument]:
    """One inbox, newest first: a provider's, or the unassigned inbox for ``None``. The file bytes
    stay in the database; only their size is read."""
    return (
        EmrDocument.objects.filter(provider=provider)  # None: IS NULL, the unassigned inbox
        .select_related("patient", "provider")
        .defer("raw_xml", "file_data")
        .annotate(file_size=Length("file_data"))
        .order_by("-received_at", "-id")[:PAGE_ROWS]
    )


def emr_retrieval_log() -> QuerySet[EmrRetrievalLog]:
    return EmrRetrievalLog.objects.select_related("document").defer(
        "document__raw_xml", "document__file_data"
    )[:PAGE_ROWS]


def emr_refused_count() -> int:
    return EmrRetrievalLog.objects.filter(outcome=EmrRetrievalLog.Outcome.REFUSED).count()
