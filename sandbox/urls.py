from django.urls import path

from . import views

app_name = "hrm_sandbox"
urlpatterns = [
    path("", views.inbox_index, name="index"),
    path("providers/<int:provider_id>/", views.provider_inbox, name="provider_inbox"),
    path("unassigned/", views.unassigned_inbox, name="unassigned_inbox"),
    path("documents/<int:document_id>/file/", views.document_download, name="document_download"),
    path("log/", views.retrieval_log, name="log"),
]
