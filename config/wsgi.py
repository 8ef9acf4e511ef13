import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_wsgi_application()

# No web process serves on a database role that could erase the access trail.
from audit.checks import trail_role_or_refuse  # noqa: E402 — needs the apps loaded above

trail_role_or_refuse()
