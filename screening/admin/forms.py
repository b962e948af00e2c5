"""Admin forms (Flask-WTF: every form carries a CSRF token). Lengths match the YAML format's limits."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional, Regexp

from ..intake.forms import (
    _Choice as Choice,  # WTForms 3.3+ wants SelectChoice, older versions pairs
)
from ..once import new_nonce
from ..validators import plain_text
from .content import ITEM_TYPES, SEVERITIES, TYPE_NAMES

TEXT_MAX = 4000
YAML_MAX = 500_000
ID_RULE = Regexp(r"^[a-z][a-z0-9_-]*$", message="Use lower-case letters, digits, - and _, starting with a letter.")


class ActionForm(FlaskForm):
    """A button that changes something (publish, move, remove, roll back): CSRF token only."""


class ChoiceRow(Form):
    value = StringField("Value", validators=[Optional(), Length(max=64), plain_text])
    label = StringField("Label", validators=[Optional(), Length(max=TEXT_MAX), plain_text])
    help = StringField("Help", validators=[Optional(), Length(max=TEXT_MAX), plain_text])


class ItemForm(FlaskForm):
    text = TextAreaField("Question text", validators=[InputRequired(), Length(max=TEXT_MAX), plain_text])
    help = TextAreaField("Help text (optional)", validators=[Optional(), Length(max=TEXT_MAX), plain_text])
    required = BooleanField("The patient must answer this question")
    unit = StringField("Unit (optional)", validators=[Optional(), Length(max=40), plain_text])
    min = StringField("Lowest accepted value (optional)", validators=[Optional(), Length(max=30), plain_text])
    max = StringField("Highest accepted value (optional)", validators=[Optional(), Length(max=30), plain_text])
    choices = FieldList(FormField(ChoiceRow), min_entries=0, max_entries=200)


class NewItemForm(ItemForm):
    id = StringField("Id", validators=[InputRequired(), Length(max=64), plain_text, ID_RULE])
    type = SelectField("Type", choices=[Choice(t, TYPE_NAMES[t]) for t in ITEM_TYPES], validators=[InputRequired()])


class NewSectionForm(NewItemForm):
    section_id = StringField("Section id", validators=[InputRequired(), Length(max=64), plain_text, ID_RULE])
    section_title = StringField("Section title", validators=[InputRequired(), Length(max=TEXT_MAX), plain_text])


class SectionForm(FlaskForm):
    title = StringField("Title", validators=[InputRequired(), Length(max=TEXT_MAX), plain_text])
    intro = TextAreaField("Introduction (optional)", validators=[Optional(), Length(max=TEXT_MAX), plain_text])


class ExampleRow(Form):
    answers = TextAreaField("Answers", validators=[Optional(), Length(max=TEXT_MAX), plain_text])
    fires = SelectField("Fires", choices=[Choice("yes", "fires"), Choice("no", "does not fire")], validate_choice=False)
    as_of = StringField("On date (optional)", validators=[Optional(), Length(max=10), plain_text])
    note = StringField("Note (optional)", validators=[Optional(), Length(max=TEXT_MAX), plain_text])
    remove = BooleanField("Remove")


class RuleForm(FlaskForm):
    severity = SelectField("Severity", choices=[Choice(s, s.capitalize()) for s in SEVERITIES])
    message = TextAreaField("Message for the clinician", validators=[InputRequired(), Length(max=TEXT_MAX), plain_text])
    source = StringField("Source", validators=[InputRequired(), Length(max=TEXT_MAX), plain_text])
    examples = FieldList(FormField(ExampleRow), min_entries=0, max_entries=200)


class YamlForm(FlaskForm):
    text = TextAreaField("YAML", validators=[InputRequired(), Length(max=YAML_MAX), plain_text])


class ImportForm(FlaskForm):
    file = FileField("A question set or rule set (.yaml), or a FHIR Questionnaire (.json)")


class TryForm(FlaskForm):
    submission = RadioField("A past submission", coerce=str, validate_choice=False)
    answers_file = FileField("Answers file (.json)")


class ApiTokenForm(FlaskForm):
    name = StringField("Name of the integration", validators=[InputRequired(), Length(max=100), plain_text])
    nonce = HiddenField(default=new_nonce)  # one token per form, however often it is sent (once.py)
