from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from security.sign_in import SignInView, home
from security.views import ThrottledPasswordResetView

urlpatterns = [
    path("", home, name="home"),
    path("login/", SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Self-service password change and reset (issue 12).
    path(
        "password/change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("password/reset/", ThrottledPasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("referrals/", include("referrals.urls")),
    path("referrals/", include("hrm.delivery.urls")),
    path("directory/", include("directory.urls")),
    # HRM's requests from the account page, at the address they always had.
    path("directory/", include("hrm.senders.urls")),
    path("admin/hrm/console/", include("hrm.delivery.console_urls")),
    path("admin/", admin.site.urls),
]
