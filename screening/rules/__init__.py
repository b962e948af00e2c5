"""Conditions, scoring and rule sets."""

from ..yaml_source import LoadError, Problem
from .ruleset import SEVERITIES, Rule, RuleSet, load_rule_set, parse_rule_set

__all__ = ["SEVERITIES", "LoadError", "Problem", "Rule", "RuleSet", "load_rule_set", "parse_rule_set"]
