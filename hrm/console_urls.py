"""Support's console, under the admin (staff sign-in, then each view's own permission)."""

from django.contrib import admin
from django.urls import path

from hrm import admin_console

app_name = "hrm_console"
urlpatterns = [
    path("dashboard/", admin.site.admin_view(admin_console.dashboard_view), name="dashboard"),
    path("resend/", admin.site.admin_view(admin_console.bulk_resend_view), name="resend"),
]
