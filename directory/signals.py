"""What directory tells the apps built on it. Directory imports none of them (they depend on
directory, never the other way): they connect to these signals in their ``AppConfig.ready``."""

from django.dispatch import Signal

# Sent by the account page once a user saved their Clinical Contact Information, with
# ``request``, ``user`` (as saved) and ``changed`` (the names of the fields that changed), e.g.
# for HRM to warn that a new UPI needs support's approval again.
clinical_contact_saved = Signal()
