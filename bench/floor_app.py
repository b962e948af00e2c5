"""The floor of the stack: a bare Flask app served by the same gunicorn settings as the real app.

GET renders a trivial Jinja template; POST parses the form body and answers 303 like a page save.
It listens on the same paths as the intake pages, so one wrk script drives both servers.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, redirect, render_template, request

app = Flask(__name__, template_folder=str(Path(__file__).parent / "floor_templates"))


@app.get("/")
def index():
    return render_template("floor.html", title="Floor", section_id="index")


@app.route("/intake/section/<section_id>", methods=["GET", "POST"])
def section(section_id: str):
    if request.method == "POST":
        action = request.form.get("_action", "next")
        return redirect(f"/intake/section/next?after={section_id}&action={action}", 303)
    return render_template("floor.html", title="Floor", section_id=section_id)
