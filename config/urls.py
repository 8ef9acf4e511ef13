from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="referrals:inbox"), name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("referrals/", include("referrals.urls")),
    path("referrals/", include("hrm.delivery_urls")),
    path("directory/", include("directory.urls")),
    path("sandbox/emr/", include("hrm.sandbox.urls")),
    path("admin/hrm/console/", include("hrm.console_urls")),
    path("admin/", admin.site.urls),
]
