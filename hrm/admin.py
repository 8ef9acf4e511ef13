"""hrm's admin pages, one module per room; importing them registers them."""

from . import admin_console, admin_reports  # noqa: F401
from .receivers import admin as receivers_admin  # noqa: F401
from .senders import admin as senders_admin  # noqa: F401
