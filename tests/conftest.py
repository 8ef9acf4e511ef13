"""Personas shared by the tests.

- referrer: Dr. Nguyen at a family practice, who sent the referral while signed in;
- intake: a nurse at a central intake, which received the referral first and forwarded it;
- specialist: Dr. Lee at a hospital clinic, which owns the referral now;
- colleague: another member of the specialist's site (a member of a stakeholder);
- stranger: a clinician at an unrelated site, who must see nothing.
"""

from types import SimpleNamespace

import pytest
from django.test import Client

from directory.models import Site
from referrals import services

from .factories import make_listing, make_referral, make_site, make_user


@pytest.fixture
def world(db):
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


@pytest.fixture
def referral(world):
    """Sent by the referrer to the intake, which forwarded it to the specialist's cardiology."""
    referral = make_referral(world.referrer, world.practice_listing, world.intake_listing)
    services.referral_forward(referral=referral, to_listing=world.cardiology, actor=world.intake)
    referral.refresh_from_db()
    return referral


@pytest.fixture
def client_for():
    def login(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return login
