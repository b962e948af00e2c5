"""``flask --app screening seed-demo``: synthetic patients covering every severity, and a demo clinician.

Every demo patient is named "DEMO ..." with a clinic reference "DEMO-nnn": nobody can mistake them
for real people. The answers are realistic but invented; dates of birth are set relative to today
so ages (and the under-18 flag) come out the same whenever the command is run.
"""

from __future__ import annotations

import datetime
import secrets

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from .. import audit
from ..accounts import auth
from ..db import db
from ..invitations import NoPublishedContent, create_invitation, revoke
from ..models import Intake, User, utcnow
from ..report.pdf import store_pdf
from ..submissions import submit_intake
from .models import record_review

DEMO_EMAIL = "demo.clinician@example.org"

# A complete intake with nothing of concern (treatment-resistant depression, 41 years old).
BASE = {
    "consent_given": True, "escort_available": True, "date_of_birth": 41, "sex_at_birth": "female",
    "height_cm": 165, "weight_kg": 68.4, "dep_diagnosed": True, "dep_episode_months": 30, "ad_trials": 3,
    "ect_history": False, "tms_history": False, "prior_ketamine_treatment": False, "psych_hospitalizations": 0,
    "bipolar_diagnosis": False, "mania_history": False, "psychosis_history": False, "psychosis_family": False,
    "phq9_1": 2, "phq9_2": 2, "phq9_3": 2, "phq9_4": 2, "phq9_5": 1, "phq9_6": 2, "phq9_7": 1, "phq9_8": 1,
    "phq9_9": 0, "phq9_difficulty": "very",
    "gad7_1": 1, "gad7_2": 1, "gad7_3": 1, "gad7_4": 1, "gad7_5": 0, "gad7_6": 1, "gad7_7": 1,
    "asq_1": False, "asq_2": False, "asq_3": False, "asq_4": False, "pcptsd_exposure": False,
    "auditc_1": 1, "auditc_2": 0, "auditc_3": 0,
    "use_cannabis": "never", "use_stimulants": "never", "use_opioids": "never", "use_sedatives": "never",
    "use_ketamine": "never", "use_hallucinogens": "never", "ketamine_misuse_ever": False,
    "sud_treatment_current": False, "medical_conditions": [], "ketamine_allergy": False, "pregnant": "no",
    "breastfeeding": False, "medications": ["ssri"], "medications_other": "Sertraline 150 mg every morning.",
    "bp_systolic": 124, "bp_diastolic": 78,
}

# (name, what it shows, hours ago submitted, changes to BASE, answers to leave out, reviewed note)
PATIENTS = [
    ("DEMO Harper Quinn", "exclude: aortic aneurysm; blood pressure above 140/90", 3,
     {"date_of_birth": 58, "sex_at_birth": "male", "height_cm": 178, "weight_kg": 92.5, "pregnant": None,
      "breastfeeding": None, "medical_conditions": ["aneurysm", "hypertension"],
      "medications": ["snri", "antihypertensive"], "medications_other": "Venlafaxine XR 225 mg, amlodipine 10 mg.",
      "bp_systolic": 148, "bp_diastolic": 92}, (), None),
    ("DEMO Rowan Ellis", "exclude: 17 years old; no blood pressure reading", 30,
     {"date_of_birth": 17, "height_cm": 160, "weight_kg": 52, "ad_trials": 1, "auditc_1": 0, "auditc_2": None,
      "auditc_3": None}, ("bp_systolic", "bp_diastolic"), None),
    ("DEMO Sam Okafor", "urgent: thoughts of suicide right now; severe depression", 1,
     {"date_of_birth": 29, "sex_at_birth": "male", "pregnant": None, "breastfeeding": None,
      "phq9_1": 3, "phq9_2": 3, "phq9_4": 3, "phq9_5": 2, "phq9_6": 3, "phq9_7": 2, "phq9_9": 2,
      "phq9_difficulty": "extremely", "asq_1": True, "asq_2": True, "asq_3": True, "asq_5": True,
      "use_cannabis": "weekly", "medications": ["bupropion", "mirtazapine"], "medications_other": None,
      "bp_systolic": 132, "bp_diastolic": 84}, (), None),
    ("DEMO Morgan Reyes", "urgent: blood pressure 186/104; takes lamotrigine", 50,
     {"date_of_birth": 62, "height_cm": 162, "weight_kg": 81.2, "medical_conditions": ["hypertension"],
      "medications": ["ssri", "lamotrigine", "antihypertensive"],
      "medications_other": "Escitalopram 20 mg, lamotrigine 100 mg, lisinopril 20 mg.",
      "bp_systolic": 186, "bp_diastolic": 104}, (), None),
    ("DEMO Jamie Novak", "review: bipolar history, possible pregnancy, bladder pain, sleep apnoea", 5,
     {"date_of_birth": 44, "weight_kg": 97, "height_cm": 170, "bipolar_diagnosis": True, "psychosis_family": True,
      "phq9_3": 3, "phq9_9": 1, "asq_4": True, "asq_5": False, "pregnant": "unsure",
      "medical_conditions": ["bladder_cystitis", "sleep_apnea_or_breathing"],
      "medications": ["lamotrigine", "antipsychotic", "benzodiazepine"], "benzodiazepine_daily": True,
      "medications_other": "Quetiapine 100 mg at night; lorazepam 1 mg most days.",
      "bp_systolic": 162, "bp_diastolic": 96}, (), None),
    ("DEMO Alex Moreau", "review: drinking and weekly stimulant use; PTSD screen positive", 26,
     {"date_of_birth": 35, "sex_at_birth": "male", "pregnant": None, "breastfeeding": None,
      "pcptsd_exposure": True, "pcptsd_1": True, "pcptsd_2": True, "pcptsd_3": True, "pcptsd_4": False,
      "pcptsd_5": True, "auditc_1": 3, "auditc_2": 2, "auditc_3": 2, "use_stimulants": "weekly",
      "use_cannabis": "monthly"}, (), "Discussed by phone; will bring a list of medicines."),
    ("DEMO Robin Takahashi", "info: 68 years old; lamotrigine; fewer than two medicine trials", 8,
     {"date_of_birth": 68, "ad_trials": 1, "medications": ["lamotrigine"], "medications_other": None,
      "bp_systolic": 136, "bp_diastolic": 82}, (), None),
    ("DEMO Casey Lindqvist", "no flags: a suitable candidate", 12, {}, (), "No concerns; book a consultation."),
    ("DEMO Devon Adeyemi", "incomplete PHQ-9 (two items left blank)", 70,
     {"date_of_birth": 51, "phq9_1": 3, "phq9_2": 3, "phq9_3": 3, "phq9_4": 3, "phq9_5": 3, "phq9_6": 3},
     ("phq9_7", "phq9_8"), None),
]


def years_ago(today: datetime.date, years: int, days_before_birthday: int = 0) -> str:
    """A date of birth giving ``years`` whole years today (a few days short of the next birthday if asked)."""
    try:
        born = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        born = today.replace(year=today.year - years, day=28)
    return (born - datetime.timedelta(days=days_before_birthday)).isoformat()


def demo_answers(changes: dict, leave_out: tuple, today: datetime.date) -> dict:
    answers = {**BASE, **changes}
    for key in leave_out:
        answers.pop(key, None)
    answers = {k: v for k, v in answers.items() if v is not None}
    answers["date_of_birth"] = years_ago(today, answers["date_of_birth"], 120)
    return answers


@click.command("seed-demo")
@click.option("--password", help="Password for the demo clinician (default: a random one, printed).")
@with_appcontext
def seed_demo_command(password: str | None) -> None:
    """Fill a fresh install with synthetic DEMO patients of every severity and a demo clinician account."""
    existing = db.session.scalar(select(func.count(Intake.id))) or 0
    if existing:
        click.echo(f"seed-demo: this database already has {existing} invitation(s); demo data is only added "
                   f"to a fresh install.", err=True)
        raise SystemExit(1)
    clinician = db.session.scalar(select(User).where(User.email == DEMO_EMAIL))
    password = password or secrets.token_urlsafe(12)
    if clinician is None:
        try:
            clinician = auth.create_user(DEMO_EMAIL, password, "clinician")
        except auth.AccountError as exc:
            click.echo(f"seed-demo: {exc}", err=True)
            raise SystemExit(1)
        audit.record("cli", "account.created", f"user:{clinician.id}", role="clinician", demo=True)
        db.session.commit()
        created = True
    else:
        created = False

    today = utcnow().date()
    now = utcnow()
    count = 0
    submissions = []
    # Render the PDFs after the demo submission times are set, not at submit_intake.
    render_on_submit = current_app.config.get("REPORT_RENDER_ON_SUBMIT", True)
    current_app.config["REPORT_RENDER_ON_SUBMIT"] = False
    try:
        for number, (name, _, hours_ago, changes, leave_out, reviewed) in enumerate(PATIENTS, start=1):
            answers = demo_answers(changes, leave_out, today)
            intake, _token = create_invitation(name, datetime.date.fromisoformat(answers["date_of_birth"]),
                                               f"DEMO-{number:03d}", created_by=clinician.id)
            intake.answers = answers
            intake.state = "in_progress"
            intake.started_at = intake.updated_at = now
            db.session.commit()
            submission = submit_intake(intake)
            moment = now - datetime.timedelta(hours=hours_ago)
            submission.submitted_at = intake.submitted_at = moment
            intake.created_at = intake.started_at = moment - datetime.timedelta(days=2)
            if reviewed:
                record_review(submission, clinician, reviewed, at=moment + datetime.timedelta(hours=1))
            db.session.commit()
            submissions.append(submission)
            count += 1
        # Invitations that are not submitted: one not started, one half done, one revoked.
        create_invitation("DEMO Taylor Brooks", None, "DEMO-101", created_by=clinician.id)
        half, _ = create_invitation("DEMO Jordan Silva", None, "DEMO-102", created_by=clinician.id)
        half.state, half.started_at, half.updated_at = "in_progress", now, now
        half.answers = {k: v for k, v in demo_answers({}, (), today).items()
                        if k in ("consent_given", "escort_available", "date_of_birth", "sex_at_birth")}
        gone, _ = create_invitation("DEMO Avery Kim", None, "DEMO-103", created_by=clinician.id)
        revoke(gone)
        audit.record("cli", "demo.seeded", None, submissions=count)
        db.session.commit()
    except NoPublishedContent:
        db.session.rollback()
        click.echo("seed-demo: no published question set; run `flask --app screening check`.", err=True)
        raise SystemExit(1)
    finally:
        current_app.config["REPORT_RENDER_ON_SUBMIT"] = render_on_submit
    if render_on_submit:
        for submission in submissions:
            store_pdf(submission)

    click.echo(f"Added {count} synthetic DEMO submissions (every severity) and 3 open or revoked invitations.")
    if created:
        click.echo(f"Demo clinician: {DEMO_EMAIL}  password: {password}")
    else:
        click.echo(f"Demo clinician {DEMO_EMAIL} already existed; its password is unchanged.")
    click.echo("Start the service (flask --app screening run) and sign in at /sign-in.")
