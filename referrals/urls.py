from django.urls import path

from . import referrer_views, views

app_name = "referrals"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("new/", views.referral_new, name="new"),
    path("listings/<int:listing_id>/refer/", views.referral_public_new, name="public_new"),
    path("<int:referral_id>/", views.referral_detail, name="detail"),
    path("<int:referral_id>/messages/", views.message_create, name="message_create"),
    path("<int:referral_id>/forward/", views.referral_forward, name="forward"),
    path("<int:referral_id>/status/", views.referral_status, name="status"),
    path(
        "<int:referral_id>/status/<str:status>/confirm/",
        views.referral_status_confirm,
        name="status_confirm",
    ),
    path("<int:referral_id>/reviewed/", views.referral_reviewed, name="reviewed"),
    path("follow/<uuid:reference>/", referrer_views.referrer_follow, name="referrer_follow"),
    path(
        "follow/<uuid:reference>/messages/",
        referrer_views.referrer_message_create,
        name="referrer_message_create",
    ),
    path(
        "follow/<uuid:reference>/attachments/<int:attachment_id>/",
        referrer_views.referrer_attachment_download,
        name="referrer_attachment_download",
    ),
    path(
        "follow/<uuid:reference>/sign-out/",
        referrer_views.referrer_sign_out,
        name="referrer_sign_out",
    ),
    path(
        "<int:referral_id>/attachments/<int:attachment_id>/",
        views.attachment_download,
        name="attachment_download",
    ),
]
