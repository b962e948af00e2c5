"""Clinician forms (Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

import datetime

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, StringField, TextAreaField
from wtforms.validators import Length, Optional, ValidationError

from ..once import new_nonce
from ..validators import plain_text


class InvitationForm(FlaskForm):
    patient_name = StringField("Patient name", validators=[Optional(), Length(max=200), plain_text],
                               render_kw={"autocomplete": "off"})
    patient_dob = DateField("Date of birth", validators=[Optional()], render_kw={"autocomplete": "off"})
    clinic_ref = StringField("Clinic reference", validators=[Optional(), Length(max=100), plain_text],
                             render_kw={"autocomplete": "off"})
    nonce = HiddenField(default=new_nonce)  # one invitation per form, however often it is sent (once.py)

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        self.patient_name.data = (self.patient_name.data or "").strip() or None
        self.clinic_ref.data = (self.clinic_ref.data or "").strip() or None
        if not self.patient_name.data and not self.clinic_ref.data:
            self.form_errors.append("Give the patient's name or a clinic reference, so the summary can be matched "
                                    "to the right person.")
            return False
        return True

    def validate_patient_dob(self, field) -> None:
        if field.data is not None:
            today = datetime.date.today()
            if field.data > today:
                raise ValidationError("The date of birth cannot be in the future.")
            if field.data.year < today.year - 120:
                raise ValidationError("The date of birth is more than 120 years ago; please check the year.")


class ActionForm(FlaskForm):
    """A button that changes something (revoke, new link): CSRF token only."""


class ReviewForm(FlaskForm):
    note = TextAreaField("Note (optional)", validators=[Optional(), Length(max=4000), plain_text])
