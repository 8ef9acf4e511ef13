from django import template

from hrm.error_text import report_error_for_reader

register = template.Library()


@register.filter
def error_for(report, user) -> str:
    """``{{ report|error_for:user }}``: the report's last error as this reader may see it."""
    return report_error_for_reader(report, staff=bool(user and user.is_staff))
