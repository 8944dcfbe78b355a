"""Guardrails: input hygiene, triage before retrieval, output filtering and the referral after composition."""
