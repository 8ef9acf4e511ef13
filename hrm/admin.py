"""hrm's admin pages live in its rooms; importing them here registers them."""

from hrm.delivery import admin as delivery_admin  # noqa: F401
from hrm.delivery import console as delivery_console  # noqa: F401
from hrm.receivers import admin as receivers_admin  # noqa: F401
from hrm.senders import admin as senders_admin  # noqa: F401
