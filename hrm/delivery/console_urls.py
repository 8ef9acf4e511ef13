"""Support's console, under the admin (staff sign-in, then each view's own permission)."""

from django.contrib import admin
from django.urls import path

from hrm.delivery import console

app_name = "hrm_console"
urlpatterns = [
    path("", admin.site.admin_view(console.landing_view), name="landing"),
    path("dashboard/", admin.site.admin_view(console.dashboard_view), name="dashboard"),
    path("resend/", admin.site.admin_view(console.bulk_resend_view), name="resend"),
]
