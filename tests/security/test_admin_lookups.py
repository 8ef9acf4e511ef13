"""No admin list takes a lookup it does not offer: each registered admin (a library's too) stands
on the product's base and answers only its own filters and date hierarchy, so no stored HRM file,
attachment, health card or secret can be read one guessed character at a time."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import RequestFactory

from hrm.models import HrmReport
from referrals import services
from security.admin_bases import BaseAdmin

from ..factories import pdf_upload


def registered():
    for model in apps.get_models():
        if admin.site.is_registered(model):
            yield model, admin.site.get_model_admin(model)


def test_every_admin_stands_on_the_base_and_refuses_what_it_does_not_offer(superuser):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    walked = []
    for model, model_admin in registered():
        assert isinstance(model_admin, BaseAdmin), model._meta.label
        offered = model_admin.offered_lookups(request)
        for name in offered:
            assert model_admin.lookup_allowed(name, "1", request), (model._meta.label, name)
        for field in model._meta.concrete_fields:
            for lookup in (field.name, f"{field.name}__exact", f"{field.name}__contains"):
                if lookup not in offered:
                    assert not model_admin.lookup_allowed(lookup, "1", request), (
                        model._meta.label,
                        lookup,
                    )
            assert not model_admin.lookup_allowed(f"{field.name}__startswith", "1", request)
        walked.append(model._meta.label)
    # The product's own, and the libraries' (second-factor devices, groups).
    assert {
        "hrm.HrmReport",
        "referrals.Referral",
        "audit.AccessEntry",
        "hrm_sandbox.EmrPatient",
    } < set(walked)
    assert {"otp_totp.TOTPDevice", "auth.Group"} < set(walked)


@pytest.fixture
def report(live):
    message = services.message_post(
        referral=live.referral, author=live.world.specialist, text="Seen.", files=[pdf_upload()]
    )
    report = message.hrm_reports.first()
    HrmReport.objects.filter(pk=report.pk).update(xml=b"<report>9876543217</report>")
    return report


def test_a_stored_hrm_file_cannot_be_read_blind(report, support_viewer, client_for):
    client = client_for(support_viewer)
    url = "/admin/hrm/hrmreport/"
    assert client.get(url, {"status__exact": "queued"}).status_code == 200  # offered
    for guess in ("9876", "0000"):
        response = client.get(url, {"id__exact": report.pk, "xml__contains": guess})
        assert response.status_code == 400
    referrals = "/admin/referrals/referral/"
    for lookup in ("patient_health_card_number", "patient_health_card_number__startswith"):
        assert client.get(referrals, {lookup: "98"}).status_code == 400
    assert client.get("/admin/referrals/attachment/", {"file__contains": "a"}).status_code == 400
    assert client.get("/admin/otp_totp/totpdevice/", {"key__startswith": "a"}).status_code == 400
