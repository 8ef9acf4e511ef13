from django.urls import path

from hrm import sender_views

app_name = "hrm_senders"
urlpatterns = [
    path(
        "account/hrm-sending/<int:site_id>/",
        sender_views.hrm_sending_request,
        name="request",
    ),
]
