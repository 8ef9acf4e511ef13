"""Reads for the sandbox EMR's pages. Every page starts with one of the ``*_or_404`` guards: the
pages exist only while ``HRM_SANDBOX_ENABLED`` is on."""

from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet
from django.db.models.functions import Length
from django.http import Http404
from django.shortcuts import get_object_or_404

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
