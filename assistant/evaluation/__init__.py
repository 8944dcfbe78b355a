"""Scripted Q&A suites for evaluators: load YAML cases, run them through the Assistant, score, report, gate."""
