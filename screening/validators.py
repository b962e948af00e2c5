"""WTForms validators shared by the staff and admin forms."""

from __future__ import annotations

from wtforms.validators import ValidationError

from .questions.model import has_control_characters


def plain_text(form, field) -> None:
    """Refuse control characters (NUL, ESC, ...): tabs and line breaks are fine."""
    if isinstance(field.data, str) and has_control_characters(field.data):
        raise ValidationError("Remove the special (invisible) characters.")
