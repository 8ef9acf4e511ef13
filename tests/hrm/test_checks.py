"""The HRM settings checks catch what would otherwise show up as failed deliveries."""

from django.core import checks


def ids(**kwargs):
    return {message.id for message in checks.run_checks(**kwargs)}


def test_default_test_settings_pass():
    assert not {i for i in ids() if i.startswith("hrm.")}


def test_bad_settings_are_named(settings, tmp_path):
    settings.HRM_TRANSPORT = "ftp"
    settings.HRM_SENDING_FACILITY = "TOO-LONG"
    settings.HRM_AES_KEY = "not-hex"
    settings.HRM_TASK_TIME_LIMIT = 10_000
    settings.HRM_SCHEMA = tmp_path / "missing.xsd"
    assert {"hrm.E001", "hrm.E002", "hrm.E003", "hrm.E004", "hrm.W001"} <= ids()


def test_a_delivery_size_that_would_stall_every_batch_is_named(settings):
    settings.HRM_DELIVERY_OPEN_FILES = 0
    assert "hrm.E009" in ids()
    settings.HRM_DELIVERY_OPEN_FILES = 64
    assert "hrm.E009" not in ids()
    settings.HRM_DELIVERY_PIPELINE_REPORTS = -1
    assert "hrm.E009" in ids()


def test_deploy_check_wants_an_aes_key(settings):
    settings.HRM_AES_KEY = ""
    assert "hrm.W002" in ids(include_deployment_checks=True)
    settings.HRM_AES_KEY = "00112233445566778899aabbccddeeff"
    assert "hrm.W002" not in ids(include_deployment_checks=True)


def test_a_report_class_or_subclass_every_report_would_fail_on_is_named(settings):
    settings.HRM_REPORT_CLASS = "Consultation Report"
    settings.HRM_REPORT_SUBCLASS = "11488-4^"
    assert {"hrm.E006", "hrm.E007"} <= ids()
    settings.HRM_REPORT_CLASS = "Other Letter"
    settings.HRM_REPORT_SUBCLASS = "^" + "𝓒" * 30  # 61 units as the EMRs count
    found = ids()
    assert "hrm.E006" not in found and "hrm.E007" in found


def test_a_sending_facility_not_in_ontariomds_format_is_named(settings):
    for wrong in ("", "P 10", "P10\n", "12345", "É100"):
        settings.HRM_SENDING_FACILITY = wrong
        assert "hrm.E002" in ids(), wrong
    for right in ("1234", "P100", "EREF", "7"):
        settings.HRM_SENDING_FACILITY = right
        assert "hrm.E002" not in ids(), right
    settings.HRM_SENDING_FACILITY_NAME = " "
    assert "hrm.E008" in ids()
    settings.HRM_SENDING_FACILITY_NAME = "Ontario eReferral messaging"
    assert "hrm.E008" not in ids()
