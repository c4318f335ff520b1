"""Temporal workflows: deterministic, PII-free interpreters of journeys."""
