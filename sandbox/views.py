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
    emr_providers_with_counts,
    emr_refused_count,
    emr_retrieval_log,
    emr_unassigned_counts,
    sandbox_enabled_or_404,
)


def inbox_index(request):
    sandbox_enabled_or_404()
    return render(
        request,
        "hrm_sandbox/index.html",
        {
            "providers": emr_providers_with_counts(),
            "unassigned": emr_unassigned_counts(),
            "refused_count": emr_refused_count(),
            **emr_profile_in_use(),
        },
    )


def provider_inbox(request, provider_id):
    provider = emr_provider_get_or_404(provider_id)
    access_record(request, action=Action.VIEWED, record="sandbox EMR inbox", object_id=provider.pk)
    return render(
        request,
        "hrm_sandbox/inbox.html",
        {
            "provider": provider,
            "documents": emr_inbox_documents(provider),
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
    return render(
        request,
        "hrm_sandbox/log.html",
        {"retrievals": emr_retrieval_log(), **emr_profile_in_use()},
    )
