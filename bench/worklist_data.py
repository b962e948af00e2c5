"""Generate many submissions for the work list, fast: bulk INSERTs of plain rows (no ORM objects).

The same shape as tests/test_clinician_scale.py (which could call ``build`` instead of its inline loop;
with the default ``documents`` and seed the rows are identical): ids 1..n, one submission every
~5 minutes from 2024-01-01, highest severity drawn with weights exclude 3 : urgent 2 : review 30 :
info 35 : none 30, and every submission reviewed except the ``unreviewed_oldest`` oldest -- the
hardest case for the default "to review" page, which has to skip all the reviewed ones.

``demo_documents()`` gives realistic answers and results (the DEMO patients of ``seed-demo``,
evaluated with the shipped content), so rows have the size they have in a clinic.
"""

from __future__ import annotations

import datetime
import random
from typing import Callable

from sqlalchemy import insert

T0 = datetime.datetime(2024, 1, 1)
RANK_WEIGHTS = [3, 2, 30, 35, 30]  # exclude, urgent, review, info, none
MINIMAL_RESULT = {"scores": {"phq9": {"value": 12, "band": "moderate", "complete": True}}, "flags": []}

Documents = Callable[[int, int], tuple[dict, dict]]  # (rank, i) -> (answers, result)


def minimal_documents(rank: int, i: int) -> tuple[dict, dict]:
    """What the scale test stores: no answers and a one-score result."""
    return {}, MINIMAL_RESULT


def demo_documents() -> Documents:
    """Answers and results of the DEMO patients (seed-demo), evaluated with the shipped content, by rank."""
    from screening.clinician.demo import PATIENTS, demo_answers
    from screening.content import default_question_set_path, default_rule_set_path
    from screening.evaluation import evaluate
    from screening.questions import parse_question_set
    from screening.rules import parse_rule_set
    from screening.rules.ruleset import SEVERITY_RANK

    qs = parse_question_set(default_question_set_path.read_text(encoding="utf-8"))
    rs = parse_rule_set(default_rule_set_path.read_text(encoding="utf-8"), qs)
    today = T0.date()
    by_rank: dict[int, list[tuple[dict, dict]]] = {r: [] for r in range(len(RANK_WEIGHTS))}
    for _name, _what, _hours, changes, leave_out, _reviewed in PATIENTS:
        answers = demo_answers(changes, leave_out, today)
        result = evaluate(qs, rs, answers, today)
        document = result.to_json()
        document["question_set"].update(version=1, title=qs.title)
        document["rule_set"].update(version=1, title=rs.title)
        rank = SEVERITY_RANK[result.highest_severity] if result.flags else len(SEVERITY_RANK)
        by_rank[rank].append((answers, document))
    pool = [doc for docs in by_rank.values() for doc in docs]
    for rank, docs in by_rank.items():
        if not docs:  # no DEMO patient of this rank: borrow one (the size is what matters)
            docs.append(pool[rank % len(pool)])

    def documents(rank: int, i: int) -> tuple[dict, dict]:
        docs = by_rank[rank]
        return docs[i % len(docs)]

    return documents


def build(session, n: int, question_set_version_id: int, rule_set_version_id: int, reviewer_id: int,
          reviewer_email: str, documents: Documents = minimal_documents, seed: int = 7,
          unreviewed_oldest: int = 60, chunk: int = 10_000, progress: Callable[[int], None] | None = None
          ) -> dict[int, tuple[int, datetime.datetime]]:
    """Insert n submitted intakes with their submissions and reviews (the caller commits and must have
    added the reviewer's user row). Returns {id: (severity rank, submitted_at)} for checking orderings."""
    from screening.clinician.models import SubmissionReview
    from screening.models import Intake, Submission

    rng = random.Random(seed)
    ranks: dict[int, tuple[int, datetime.datetime]] = {}
    for first in range(1, n + 1, chunk):
        intakes, submissions, reviews = [], [], []
        for i in range(first, min(first + chunk, n + 1)):
            when = T0 + datetime.timedelta(minutes=5 * i + rng.randrange(5))
            rank = rng.choices(range(5), weights=RANK_WEIGHTS)[0]
            ranks[i] = (rank, when)
            answers, result = documents(rank, i)
            flags = result.get("flags", [])
            intakes.append({"id": i, "token_hash": f"{i:064x}", "state": "submitted", "patient_name": f"P{i}",
                            "question_set_version_id": question_set_version_id,
                            "rule_set_version_id": rule_set_version_id, "answers": answers,
                            "created_at": when, "submitted_at": when})
            reviewed = i > unreviewed_oldest
            submissions.append({"id": i, "intake_id": i, "submitted_at": when, "answers": answers, "result": result,
                                "severity_rank": rank, "reviewed_at": T0 if reviewed else None,
                                "reviewed_by": reviewer_id if reviewed else None,
                                **{f"{sev}_count": sum(1 for f in flags if f.get("severity") == sev)
                                   for sev in ("exclude", "urgent", "review", "info")}})
            if reviewed:
                reviews.append({"submission_id": i, "reviewed_by": reviewer_id, "reviewer_email": reviewer_email,
                                "reviewed_at": T0})
        session.execute(insert(Intake), intakes)
        session.execute(insert(Submission), submissions)
        if reviews:
            session.execute(insert(SubmissionReview), reviews)
        if progress:
            progress(min(first + chunk - 1, n))
    return ranks
