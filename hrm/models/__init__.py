"""HRM's tables: who may send (senders), who may receive (receivers), the outbox of reports
(delivery) and support's records of it (support). One module each; every model is importable from
``hrm.models``."""

from hrm.models.delivery import HrmMessageDecision, HrmReport
from hrm.models.receivers import HrmReceiver, ReceiverImport
from hrm.models.senders import SenderApproval, SenderApprovalLog
from hrm.models.support import (
    ErrorClass,
    HrmAlert,
    HrmAlertReport,
    HrmAttempt,
    HrmBulkResend,
    HrmHealth,
    HrmReportSelection,
)

__all__ = [
    "ErrorClass",
    "HrmAlert",
    "HrmAlertReport",
    "HrmAttempt",
    "HrmBulkResend",
    "HrmHealth",
    "HrmMessageDecision",
    "HrmReceiver",
    "HrmReport",
    "HrmReportSelection",
    "ReceiverImport",
    "SenderApproval",
    "SenderApprovalLog",
]
