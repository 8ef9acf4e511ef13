"""Production's JSON log lines, without exception messages.

An exception's message may quote what it failed on: a database error quotes the row it refused,
a validation error the value it was given, and those can be a patient's name or health card.
A log line keeps where it happened (every frame) and what kind of error it was, never the
message; the message goes to Sentry, whose events are scrubbed (ops/sentry.py)."""

import traceback

from pythonjsonlogger.json import JsonFormatter

WITHHELD = "(message withheld from the log: it may quote patient data)"


def exception_without_messages(error: BaseException) -> str:
    """The traceback of ``error`` and of the errors it was raised from, types and frames only,
    oldest first as Python prints them."""
    chain = []
    while error is not None and all(error is not seen for seen in chain):
        chain.append(error)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return "\nThe above exception led to the one below.\n\n".join(
        "Traceback (most recent call last):\n"
        + "".join(traceback.format_list(traceback.extract_tb(each.__traceback__)))
        + f"{type(each).__module__}.{type(each).__qualname__}: {WITHHELD}"
        for each in reversed(chain)
    )


class JsonFormatterWithoutExceptionMessages(JsonFormatter):
    def formatException(self, ei) -> str:
        return exception_without_messages(ei[1])
