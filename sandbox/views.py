"""The sandbox EMR's inbox: what a clinician would find in their EMR after HRM delivered our
reports. Signed-in users only (LoginRequiredMiddleware), and 404 unless HRM_SANDBOX_ENABLED."""

import io

from django.http import FileResponse
from django.shortcuts import render

from audit.services import Action, access_record

from .selectors import (
    emr_document_file_get_or_404,
    emr_inbox_documents,
    emr_profile_in_use,
    emr_provider_get_or_404,
    emr_provider_of_user,
    emr_providers_with_counts,
    emr_refusals,
    emr_refused_count,
    emr_retrieval_log,
    emr_unassigned_counts,
    sandbox_enabled_or_404,
)


def inbox_index(request):
    """A clinician's own inbox, as their EMR would open on it; staff see every inbox."""
    sandbox_enabled_or_404()
    if not request.user.is_staff:
        provider = emr_provider_of_user(request.user)
        if provider is None:
            return render(request, "hrm_sandbox/no_inbox.html", emr_profile_in_use())
        return _provider_inbox(request, provider, own=True)
    refusals = emr_refusals(request.user)
    return render(
        request,
        "hrm_sandbox/index.html",
        {
            "providers": emr_providers_with_counts(),
            "unassigned": emr_unassigned_counts(),
            "refused_count": emr_refused_count(),
            "refused_by_hrm_count": sum(refusal.by_hrm for refusal in refusals),
            **emr_profile_in_use(),
        },
    )


def provider_inbox(request, provider_id):
    return _provider_inbox(request, emr_provider_get_or_404(provider_id))


def _provider_inbox(request, provider, *, own=False):
    access_record(request, action=Action.VIEWED, record="sandbox EMR inbox", object_id=provider.pk)
    return render(
        request,
        "hrm_sandbox/inbox.html",
        {
            "provider": provider,
            "own": own,
            "documents": emr_inbox_documents(provider),
            "refusals": emr_refusals(request.user, provider),
            **emr_profile_in_use(),
        },
    )


def unassigned_inbox(request):
    sandbox_enabled_or_404()
    documents = emr_inbox_documents(None)
    access_record(request, action=Action.VIEWED, record="sandbox EMR inbox (unassigned)")
    return render(
        request,
        "hrm_sandbox/inbox.html",
        {"provider": None, "documents": documents, **emr_profile_in_use()},
    )


def document_download(request, document_id):
    document = emr_document_file_get_or_404(document_id)
    access_record(
        request, action=Action.DOWNLOADED, record="sandbox EMR document", object_id=document.pk
    )
    response = FileResponse(
        io.BytesIO(bytes(document.file_data)),
        as_attachment=True,
        filename=document.download_name,
        content_type=document.content_type,
    )
    response["Cache-Control"] = "private, no-store"
    # The bytes came from outside: should a browser ever render them, they get no powers here.
    response["Content-Security-Policy"] = "sandbox"
    return response


def retrieval_log(request):
    sandbox_enabled_or_404()
    provider = None if request.user.is_staff else emr_provider_of_user(request.user)
    return render(
        request,
        "hrm_sandbox/log.html",
        {
            "retrievals": emr_retrieval_log(),
            "hrm_refusals": [
                refusal
                for refusal in emr_refusals(request.user, provider)
                if refusal.by_hrm and (provider or request.user.is_staff)
            ],
            **emr_profile_in_use(),
        },
    )
