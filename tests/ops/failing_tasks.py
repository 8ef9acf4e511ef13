"""A task that fails about a patient, for the worker's error report test (loaded into a worker
process with ``--include``)."""

from celery import shared_task

from tests.factories import PATIENT


@shared_task(name="tests.ops.fail_about_a_patient", ignore_result=True)
def fail_about_a_patient(report_ids):
    patient = (
        f"{PATIENT['patient_last_name']} {PATIENT['patient_health_card_number']} "
        f"{PATIENT['patient_birth_date'].isoformat()}"
    )
    raise RuntimeError(f"could not deliver for {patient}")
