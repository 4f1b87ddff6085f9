"""Measurement: the judge, per-class FID and class frequencies."""
