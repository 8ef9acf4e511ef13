"""A channel of MESSAGE_DELIVERY_CHANNELS that cannot be loaded would fail every Send: say so when
the project starts, not when a clinician presses Send."""

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from .channels import DeliveryChannel


@checks.register()
def delivery_channels_check(app_configs, **kwargs):
    errors = []
    for path in settings.MESSAGE_DELIVERY_CHANNELS:
        try:
            channel = import_string(path)
        except ImportError as error:
            problem = f"cannot be imported ({error})"
        else:
            if isinstance(channel, type) and issubclass(channel, DeliveryChannel):
                continue
            problem = "is not a referrals.channels.DeliveryChannel"
        errors.append(
            checks.Error(
                f"MESSAGE_DELIVERY_CHANNELS: {path} {problem}.",
                hint="List dotted paths to DeliveryChannel subclasses (referrals/channels.py).",
                obj=path,
                id="referrals.E001",
            )
        )
    return errors
