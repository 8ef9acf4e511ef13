"""The URLs of the demo and the tests (``ROOT_URLCONF`` in config/settings/sandbox.py): the
product's, and the sandbox EMR's pages under ``sandbox/emr/``. The product's own URLs
(config/urls.py) know nothing of the sandbox."""

from django.urls import include, path

from config.urls import urlpatterns as product_urlpatterns

urlpatterns = [
    *product_urlpatterns,
    path("sandbox/emr/", include("sandbox.urls")),
]
