"""The base settings plus the HRM sandbox (the top-level `sandbox` app: a stand-in for HRM's
server and a clinician's EMR, `manage.py hrm_sandbox`). The demo and test profiles build on this
module; production builds on base alone, and the sandbox refuses to start without
`HRM_SANDBOX_ALLOWED`, which only this module sets (sandbox/apps.py)."""

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, TEMPLATES, VAR_DIR, env

# What lets the sandbox start at all (sandbox/apps.py); no other profile sets it.
HRM_SANDBOX_ALLOWED = True
INSTALLED_APPS = [*INSTALLED_APPS, "sandbox"]
# The product's pages plus the sandbox EMR's, under sandbox/emr/.
ROOT_URLCONF = "sandbox.root_urls"
TEMPLATES = [
    {
        **TEMPLATES[0],
        "OPTIONS": {
            **TEMPLATES[0]["OPTIONS"],
            "context_processors": [
                *TEMPLATES[0]["OPTIONS"]["context_processors"],
                "sandbox.context_processors.sandbox",
            ],
        },
    },
    *TEMPLATES[1:],
]

HRM_SANDBOX_DIR = env.path("HRM_SANDBOX_DIR", default=VAR_DIR / "hrm-sandbox")
HRM_SANDBOX_PORT = env.int("HRM_SANDBOX_PORT", default=2222)
# Real EMRs poll every 30 minutes to 24 hours; the sandbox polls fast so the demo is lively.
HRM_SANDBOX_POLL_SECONDS = env.float("HRM_SANDBOX_POLL_SECONDS", default=5)
# The sandbox EMR inbox shows every filed report to any signed-in user: its pages 404 unless on.
HRM_SANDBOX_ENABLED = env.bool("HRM_SANDBOX_ENABLED", default=False)
# Whose rules the sandbox EMR files reports by: open-o (the strictest, what most Ontario clinics run
# in 2026), oscar or juno (one module each under sandbox/emrs/).
HRM_SANDBOX_EMR_PROFILE = env.str("HRM_SANDBOX_EMR_PROFILE", default="open-o")
