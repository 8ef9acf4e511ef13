"""Where a person lands after signing in, or on the site's root: staff on support's console
(the dashboard), clinicians on their referrals. A staff member has no referrals of their own,
so the inbox would greet them empty."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, resolve_url

from .admin_site import staff_landing_url


def landing_url(user) -> str:
    if user.is_active and user.is_staff:
        return staff_landing_url()
    return resolve_url(settings.LOGIN_REDIRECT_URL)


class SignInView(auth_views.LoginView):
    def get_default_redirect_url(self):
        if self.next_page:
            return super().get_default_redirect_url()
        return landing_url(self.request.user)


def home(request):
    return redirect(landing_url(request.user))
