"""Account forms: sign-in, the second factor, passwords, two-factor enrolment, and the admin's account
forms (Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from ..intake.forms import _Choice as Choice  # WTForms 3.3+ wants SelectChoice, older versions pairs
from ..validators import plain_text
from .auth import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, STAFF_ROLES


class SignInForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=255)],
                       render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"})
    password = PasswordField("Password", validators=[InputRequired(), Length(max=MAX_PASSWORD_LENGTH)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class SignOutForm(FlaskForm):
    pass


class SetupForm(FlaskForm):
    email = EmailField("Your email", validators=[InputRequired(), Length(max=255)],
                       render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"})
    password = PasswordField(f"Password (at least {MIN_PASSWORD_LENGTH} characters)",
                             validators=[InputRequired(), Length(max=MAX_PASSWORD_LENGTH)],
                             render_kw={"autocomplete": "new-password", "minlength": MIN_PASSWORD_LENGTH})
    confirm = PasswordField("Password again", validators=[InputRequired(),
                                                          EqualTo("password", "The two passwords differ.")],
                            render_kw={"autocomplete": "new-password"})


ROLE_CHOICES = [Choice(role, role.capitalize()) for role in STAFF_ROLES]


class NewPasswordForm(FlaskForm):
    """Choosing a password: with an invitation or reset link, or (with ``current``) on one's own account page."""

    password = PasswordField(f"New password (at least {MIN_PASSWORD_LENGTH} characters)",
                             validators=[InputRequired(), Length(max=MAX_PASSWORD_LENGTH)],
                             render_kw={"autocomplete": "new-password", "minlength": MIN_PASSWORD_LENGTH})
    confirm = PasswordField("New password again", validators=[InputRequired(),
                                                              EqualTo("password", "The two passwords differ.")],
                            render_kw={"autocomplete": "new-password"})


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField("Current password", validators=[InputRequired(), Length(max=MAX_PASSWORD_LENGTH)],
                            render_kw={"autocomplete": "current-password"})


class CodeForm(FlaskForm):
    """A six-digit code from the authenticator app, or (on the recovery form) a recovery code."""

    code = StringField("Code", validators=[InputRequired(), Length(max=40), plain_text],
                       render_kw={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false"})


class ConfirmPasswordForm(FlaskForm):
    """A change to one's own two-factor settings asks for the password again."""

    password = PasswordField("Your password", validators=[InputRequired(), Length(max=MAX_PASSWORD_LENGTH)],
                             render_kw={"autocomplete": "current-password"})


class InviteForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=255), plain_text],
                       render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"})
    role = SelectField("Role", choices=ROLE_CHOICES, default="clinician")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class AccountActionForm(FlaskForm):
    """A button that changes an account (disable, enable, new link, turn off two-factor): CSRF only."""
