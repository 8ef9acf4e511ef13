"""What a delivery error was, decided where the error is raised (a transport, the report's build,
the sender's approval, the worker) and stored on the report and its attempt: HRM's health, the
alerts, support's figures and the clinician's words read it, never the error's wording. Kept
apart from the models so the transports can name a class without the app registry."""

from django.db import models


class ErrorClass(models.TextChoices):
    UNREACHABLE = "unreachable", "HRM unreachable"
    AUTHENTICATION = "authentication", "Our key refused"
    HOST_KEY = "host_key", "HRM's host key not pinned"
    FOLDER = "folder", "HRM folder missing or closed"
    PERMISSION = "permission", "Permission refused"
    RECIPIENT = "recipient", "This file refused"
    CONFIGURATION = "configuration", "Our configuration"
    INVALID = "invalid", "Report invalid"
    MISSING_FILE = "missing_file", "Attachment missing"
    BUILD = "build", "Report could not be built"
    WORKER = "worker", "Worker stopped"
    SENDER = "sender", "Sender no longer approved"
    UNEXPECTED = "unexpected", "Unexpected error"
