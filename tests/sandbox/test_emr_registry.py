"""The sandbox's EMRs: one module and one registration each; version chains as each EMR's
document lists pick a chain's current document; Open-O's registry of Sending Facilities."""

import inspect
from pathlib import Path

import pytest
from django.urls import reverse

import sandbox.emrs
from sandbox.emrs import Emr, emr_profile, emr_profile_choices, emr_registry, emr_rules
from sandbox.models import EmrDocument, EmrRetrievalLog, EmrSendingFacility
from sandbox.services.filing import sandbox_file_report

from .conftest import hrm_xml

PROFILES = ["open-o", "oscar", "juno"]


# --- One module per EMR -------------------------------------------------------------------------


def test_each_emr_is_one_module_and_one_registration():
    registry = emr_registry()
    assert list(registry) == PROFILES
    modules = {emr.name: type(emr).__module__ for emr in registry.values()}
    assert modules == {
        "open-o": "sandbox.emrs.open_o",
        "oscar": "sandbox.emrs.oscar",
        "juno": "sandbox.emrs.juno",
    }
    assert emr_profile_choices() == [("open-o", "Open-O"), ("oscar", "OSCAR"), ("juno", "Juno")]
    # Filing, the shared rules and the models name no EMR: each EMR's rules are in its module.
    sandbox_dir = Path(sandbox.emrs.__file__).parent.parent
    for path in ("services/filing.py", "rules.py", "models.py", "selectors.py"):
        source = (sandbox_dir / path).read_text()
        branches = ('"open-o"', '"oscar"', '"juno"', "OPEN_O", "JUNO", "OSCAR_FAMILY")
        for name in (*branches, "EmrProfile"):
            assert name not in source, (path, name)


class Refusing(Emr):
    """An EMR that files nothing, to show a new EMR is one class and one registration."""

    name = "refusing"
    label = "Refusing EMR"
    rules_in_words = "refuses every file."

    def refusals(self, hrm):
        return "The refusing EMR files nothing."


@pytest.fixture
def refusing_registered(monkeypatch):
    path = f"{__name__}.Refusing"
    monkeypatch.setattr(sandbox.emrs, "_MODULES", (*sandbox.emrs._MODULES, path))
    emr_registry.cache_clear()
    yield
    monkeypatch.undo()
    emr_registry.cache_clear()


def test_a_new_emr_is_one_class_and_one_registration(emr, refusing_registered):
    assert emr_profile("Refusing") == "refusing"
    assert ("refusing", "Refusing EMR") in emr_profile_choices()
    logged = sandbox_file_report(hrm_xml(), "new.xml.enc", profile="refusing")
    assert logged.outcome == EmrRetrievalLog.Outcome.REFUSED
    assert logged.error == "The refusing EMR files nothing."
    assert logged.emr_profile == "refusing"
    assert inspect.getmodule(emr_rules("refusing")).__name__ == __name__


# --- Version chains -----------------------------------------------------------------------------


def file(profile: str, name: str, **fields) -> EmrDocument:
    logged = sandbox_file_report(hrm_xml(**fields), name, profile=profile)
    assert logged.outcome == EmrRetrievalLog.Outcome.FILED, logged.error
    return logged.document


def shown(document: EmrDocument) -> bool:
    return not EmrDocument.objects.get(pk=document.pk).is_prior_version


@pytest.mark.parametrize("profile", PROFILES)
def test_a_new_version_of_a_report_is_shown_in_place_of_the_old_one(emr, profile):
    first = file(profile, "v1", report_number="R-1", message_unique_id="R-1-D12345")
    other = file(
        profile,
        "other",
        report_number="R-2",
        message_unique_id="R-2-D12345",
        text="Another letter.",
        event_datetime="2026-03-02T10:04:06",
    )
    second = file(
        profile,
        "v2",
        report_number="R-1",
        message_unique_id="R-1-D12345-v2",
        text="Seen today.\nPlan: echo, then stress test.",
        event_datetime="2026-03-02T11:00:00",
    )
    assert shown(second) and shown(other) and not shown(first)
    assert EmrDocument.objects.get(pk=first.pk).current_version_id == second.pk
    assert not EmrDocument.objects.get(pk=second.pk).is_hidden  # the similar-report check agrees
    # Another recipient's copy is another chain (DeliverToUserID is part of the key).
    for_okafor = file(
        profile,
        "okafor",
        report_number="R-1",
        message_unique_id="R-1-N1234567",
        deliver_to="N1234567",
        provider=("Grace", "Okafor"),
        text="For the nurse.",
        event_datetime="2026-03-02T12:00:00",
    )
    assert shown(for_okafor) and shown(second)


@pytest.mark.parametrize("profile", PROFILES)
def test_a_cancelled_version_does_not_replace_the_report_it_follows(emr, profile):
    """``HRMResultsData.isNewer``: without HRM's message date in the MessageUniqueID, the
    version that is not cancelled wins. That is why a withdrawal is sent as ``S``."""
    first = file(profile, "v1", report_number="R-1", message_unique_id="R-1-D12345")
    cancelled = file(
        profile,
        "v2",
        report_number="R-1",
        message_unique_id="R-1-D12345-v2",
        text="WITHDRAWN",
        result_status="C",
        event_datetime="2026-03-02T11:00:00",
    )
    assert shown(first) and not shown(cancelled)


@pytest.mark.parametrize("profile", PROFILES)
def test_hrms_own_message_date_decides_first(emr, profile):
    """HRM's MessageUniqueID carries its message date as its sixth ``^`` part: the later one is
    current even when it was filed first."""
    later = file(
        profile,
        "later",
        report_number="R-1",
        message_unique_id="20260302110000000^1^EREF^MR^R-1^202603021100^P^^S",
        text="The later one.",
        event_datetime="2026-03-02T11:00:00",
    )
    earlier = file(
        profile,
        "earlier",
        report_number="R-1",
        message_unique_id="20260302100000000^1^EREF^MR^R-1^202603021000^P^^S",
    )
    assert shown(later) and not shown(earlier)


# --- Open-O's registry of Sending Facilities ----------------------------------------------------


def test_open_o_flags_an_unregistered_sending_facility_with_its_raw_id(
    emr, client, sandbox_on, django_user_model
):
    EmrSendingFacility.objects.create(facility_id="EREF", name="eReferral messaging")
    registered = file("open-o", "a", report_number="R-1", message_unique_id="A")
    unregistered = file(
        "open-o",
        "b",
        report_number="R-2",
        message_unique_id="B",
        sending_facility="Z9",
        text="From elsewhere.",
        event_datetime="2026-03-02T11:00:00",
    )
    assert registered.facility_notice == ""
    assert unregistered.facility_notice.startswith("Unregistered HRM Sending Facility: 'Z9'.")
    for profile in ("oscar", "juno"):  # only Open-O keeps a registry
        document = file(
            profile,
            f"c-{profile}",
            report_number=f"R-{profile}",
            message_unique_id=f"C-{profile}",
            sending_facility="Z9",
            text=f"For {profile}.",
            event_datetime="2026-03-02T12:00:00",
        )
        assert document.facility_notice == ""

    client.force_login(django_user_model.objects.create_user(username="reader"))
    page = client.get(reverse("hrm_sandbox:provider_inbox", args=[emr.nguyen.pk])).content.decode()
    assert page.count("Unregistered HRM Sending Facility:</strong> Z9.") == 1

    EmrSendingFacility.objects.create(facility_id="Z9", name="Elsewhere Hospital")
    again = file(
        "open-o",
        "d",
        report_number="R-3",
        message_unique_id="D",
        sending_facility="Z9",
        text="Registered now.",
        event_datetime="2026-03-02T13:00:00",
    )
    assert again.facility_notice == ""
