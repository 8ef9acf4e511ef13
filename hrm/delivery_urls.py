from django.urls import path

from hrm import delivery_views

app_name = "hrm_delivery"
urlpatterns = [
    path("<int:referral_id>/hrm-status/", delivery_views.referral_hrm_status, name="status"),
    path(
        "<int:referral_id>/messages/<int:message_id>/hrm/",
        delivery_views.message_hrm_details,
        name="details",
    ),
    path(
        "<int:referral_id>/messages/<int:message_id>/hrm/resend/",
        delivery_views.message_hrm_resend,
        name="resend",
    ),
]
