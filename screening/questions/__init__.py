"""Question sets: the YAML format, its validation, and the loaded model."""

from ..yaml_source import LoadError, Problem
from .loader import load_question_set, parse_question_set
from .model import AnswerProblem, Item, QuestionSet, Section

__all__ = ["AnswerProblem", "Item", "LoadError", "Problem", "QuestionSet", "Section",
           "load_question_set", "parse_question_set"]
