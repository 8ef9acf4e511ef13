from django.urls import path

from . import views

app_name = "directory"
urlpatterns = [
    path("", views.directory, name="listings"),
    path("account/", views.account, name="account"),
    path("listings/<int:listing_id>/settings/", views.listing_settings, name="listing_settings"),
]
