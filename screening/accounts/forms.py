"""Sign-in, sign-out and first-admin forms (Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import EqualTo, InputRequired, Length

from .auth import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH


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
