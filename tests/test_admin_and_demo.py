import io

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from directory.models import Listing, Site, User
from hrm.delivery.connections import transport_get
from hrm.delivery.selectors.messages import HrmIcon, message_hrm_icon
from hrm.delivery.services.outbox import report_deliver
from hrm.models import HrmReport
from hrm.sandbox.models import EmrDocument, EmrRetrievalLog
from hrm.sandbox.services import sandbox_charts_sync, sandbox_poll
from referrals.models import Attachment, Message, Referral, ReferralEvent

from .delivery_fixtures import AES_KEY


@pytest.fixture
def demo(db):
    call_command("seed_demo", stdout=io.StringIO())


def test_seed_demo_is_idempotent_and_complete(demo):
    counts = [m.objects.count() for m in (Site, User, Listing, Referral, Message, Attachment)]
    call_command("seed_demo", stdout=io.StringIO())
    assert [
        m.objects.count() for m in (Site, User, Listing, Referral, Message, Attachment)
    ] == counts
    assert 2 <= Site.objects.count() <= 3
    assert User.objects.exclude(professional_id="").count() >= 4
    assert Listing.objects.filter(requires_sign_in=True).exists()
    assert Listing.objects.filter(requires_sign_in=False).exists()
    assert ReferralEvent.objects.filter(kind="forwarded").exists()
    letters = Attachment.objects.filter(content_type="application/pdf")
    assert letters.exists()
    assert all(letter.file.read().startswith(b"%PDF") for letter in letters)


def test_demo_logins_work(demo, client):
    # Through the sign-in page: django-axes counts every sign-in, so it needs the request.
    response = client.post("/login/", {"username": "dr.nguyen", "password": "demo-pass-2026"})
    assert response.status_code == 302
    assert "Tremblay, Hélène" in client.get("/referrals/?folder=sent").content.decode()


def test_every_model_has_a_working_admin_changelist(demo, client):
    client.post("/login/", {"username": "support", "password": "demo-pass-2026"})
    for model in (Site, User, Listing, Referral, Message, Attachment, ReferralEvent):
        assert admin.site.is_registered(model)
    for model in apps.get_models():
        if model._meta.app_label in ("directory", "referrals", "hrm", "hrm_sandbox"):
            assert admin.site.is_registered(model), model
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert client.get(url).status_code == 200, url
        if model_admin.search_fields:
            assert client.get(url, {"q": "Tremblay"}).status_code == 200, url
        first = model.objects.first()
        if first is not None:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk])
            assert client.get(change).status_code == 200, change


def test_demo_shows_a_checkmark_a_red_mark_and_a_reason(db, hrm_sftp):
    """What the README promises a person trying the demo, once the worker has run."""
    hrm_sftp.refuse_deliver_to("D13579")  # as scripts/demo.sh starts the sandbox
    call_command("seed_demo", stdout=io.StringIO())
    transport = transport_get()
    for report in HrmReport.objects.all():
        report_deliver(report.pk, transport)
    icons = {}
    for message in Message.objects.select_related("author"):
        reports = list(message.hrm_reports.all())
        icons.setdefault(message_hrm_icon(reports), []).append(message)
    assert {HrmIcon.SENT, HrmIcon.FAILED, HrmIcon.NONE} <= set(icons)
    assert any(m.author.username == "dr.lee" for m in icons[HrmIcon.SENT])
    assert any(m.author.username == "dr.patel" for m in icons[HrmIcon.FAILED])
    reasons = [m.hrm_decision.reasons for m in icons[HrmIcon.NONE]]
    assert ["The referrer was not signed in when sending the eReferral."] in [
        r[:1] for r in reasons
    ]


@pytest.mark.parametrize("profile", ["open-o", "oscar", "juno"])
def test_the_demos_sent_reports_are_filed_and_shown_under_every_emr_profile(db, hrm_sftp, profile):
    hrm_sftp.refuse_deliver_to("D13579")  # as scripts/demo.sh starts the sandbox
    call_command("seed_demo", stdout=io.StringIO())
    transport = transport_get()
    for report in HrmReport.objects.all():
        report_deliver(report.pk, transport)
    sent = HrmReport.objects.filter(status=HrmReport.Status.SENT)
    assert sent.exists()
    sandbox_charts_sync()
    sandbox_poll(hrm_sftp.login, AES_KEY, profile=profile)
    assert not EmrRetrievalLog.objects.filter(outcome="refused").exists()
    filed = {document.message_unique_id: document for document in EmrDocument.objects.all()}
    routed = EmrRetrievalLog.objects.filter(outcome="routed").values_list(
        "message_unique_id", flat=True
    )
    for report in sent:
        assert report.transaction_id in filed or report.transaction_id in set(routed)
    for document in filed.values():
        assert not document.is_hidden, document.hidden_reason
        assert document.patient is not None
