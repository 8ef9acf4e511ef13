"""Small hand-written factories: each test builds what it needs in a line or two."""

import datetime
import itertools
from types import SimpleNamespace

from django.core.files.uploadedfile import SimpleUploadedFile

from directory.models import Listing, Site, User
from referrals import services
from referrals.sample_files import consultation_letter_pdf

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery"


def make_site(name=None, kind=Site.Kind.CLINIC, **fields) -> Site:
    return Site.objects.create(name=name or f"Site {next(_seq)}", kind=kind, **fields)


def make_user(site=None, username=None, professional_id="", **fields) -> User:
    username = username or f"user{next(_seq)}"
    fields.setdefault("email", f"{username}@example.org")
    user = User.objects.create_user(
        username=username, password=PASSWORD, professional_id=professional_id, **fields
    )
    if site:
        user.sites.add(site)
    return user


def make_listing(site, name=None, requires_sign_in=True, **fields) -> Listing:
    fields.setdefault("service", "Cardiology")
    fields.setdefault("notification_email", f"listing{next(_seq)}@example.org")
    return Listing.objects.create(
        site=site, name=name or f"Listing {next(_seq)}", requires_sign_in=requires_sign_in, **fields
    )


PATIENT = {
    "patient_first_name": "Hélène",
    "patient_last_name": "Tremblay",
    "patient_birth_date": datetime.date(1961, 4, 18),
    "patient_sex": "F",
    "patient_health_card_number": "9876543217",
    "patient_health_card_version": "AB",
    "reason": "Chest pain on exertion.",
}


def make_referral(referrer, referrer_listing, target_listing, **fields):
    return services.referral_create(
        referrer_user=referrer,
        referrer_listing=referrer_listing,
        target_listing=target_listing,
        **{**PATIENT, **fields},
    )


def pdf_upload(name="letter.pdf", lines=("Consultation letter",), padding_bytes=0):
    return SimpleUploadedFile(
        name, consultation_letter_pdf(list(lines), padding_bytes=padding_bytes), "application/pdf"
    )


def make_world() -> SimpleNamespace:
    """The personas of tests/conftest.py, with their sites and listings."""
    practice = make_site("Maple Family Health Team")
    intake_site = make_site("Lakeshore Central Intake", kind=Site.Kind.CENTRAL_INTAKE)
    hospital = make_site("St. Brigid's Hospital", kind=Site.Kind.HOSPITAL)
    elsewhere = make_site("Unrelated Clinic")
    w = SimpleNamespace(
        referrer=make_user(practice, "dr.nguyen", "D12345", first_name="Alice", last_name="Nguyen"),
        intake=make_user(
            intake_site, "rn.okafor", "N1234567", first_name="Grace", last_name="Okafor"
        ),
        specialist=make_user(hospital, "dr.lee", "D67890", first_name="François", last_name="Lee"),
        colleague=make_user(hospital, "dr.patel", first_name="Priya", last_name="Patel"),
        stranger=make_user(
            elsewhere, "dr.stranger", "D99999", first_name="Sam", last_name="Stranger"
        ),
    )
    w.practice_listing = make_listing(practice, "Dr. Nguyen, Family Medicine", service="Family")
    w.intake_listing = make_listing(
        intake_site, "Lakeshore Cardiology Intake", requires_sign_in=False
    )
    w.cardiology = make_listing(hospital, "St. Brigid's Cardiology")
    w.stranger_listing = make_listing(elsewhere, "Unrelated Clinic Listing")
    return w


# The smallest JFIF file libmagic calls image/jpeg: a JPEG as a scanner would name it, ".jpg".
JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def jpeg_upload(name="wound photo.jpg"):
    return SimpleUploadedFile(name, JPEG_BYTES, "image/jpeg")


def text_upload(name="notes.txt", text="Blood pressure 120/80\r\nPlan: echo", encoding="utf-8"):
    return SimpleUploadedFile(name, text.encode(encoding), "text/plain")


def composed(client, referral, **data) -> dict:
    """A message form's data as the referral page posts it: with a composer token for the user
    ``client`` is signed in as."""
    from referrals.composer import composer_token_issue

    user = User.objects.get(pk=client.session["_auth_user_id"])
    return {"composer": composer_token_issue(user, referral), **data}
