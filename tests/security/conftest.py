"""Personas for the security rules, beside those of tests/conftest.py (clinicians of the
referral, and the stranger):

- support_viewer: staff with only the "view" permissions (support's read-only role);
- superuser: every permission;
- anonymous: the plain ``client`` fixture.
"""

import pytest
from django.contrib.auth.models import Permission

from ..factories import make_user


@pytest.fixture
def support_viewer(db):
    user = make_user(username="support.viewer", first_name="Vera", last_name="Viewer")
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


@pytest.fixture
def superuser(db):
    user = make_user(username="super.user", first_name="Sid", last_name="Super")
    user.is_staff = user.is_superuser = True
    user.save()
    return user


@pytest.fixture
def full_staff(db):
    """Staff with every permission, without being a superuser."""
    user = make_user(username="support.full", first_name="Fay", last_name="Full")
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.all())
    return user


@pytest.fixture
def staff_without_permissions(db):
    user = make_user(username="support.none", first_name="Nell", last_name="None")
    user.is_staff = True
    user.save()
    return user
