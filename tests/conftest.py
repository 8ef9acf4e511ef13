"""Personas shared by the tests.

- referrer: Dr. Nguyen at a family practice, who sent the referral while signed in;
- intake: a nurse at a central intake, which received the referral first and forwarded it;
- specialist: Dr. Lee at a hospital clinic, which owns the referral now;
- colleague: another member of the specialist's site (a member of a stakeholder);
- stranger: a clinician at an unrelated site, who must see nothing.
"""

import pytest
from django.test import Client

from referrals import services

from .delivery_fixtures import (  # noqa: F401 — fixtures for the delivery and browser tests
    broker,
    hrm_sftp,
    live,
    private_redis,
    sftp_server,
    worker,
)
from .factories import make_referral, make_world


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters live in the cache: each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def world(db):
    return make_world()


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
