"""Metrics: pure functions of records and an as-of date; no I/O, no clock."""
