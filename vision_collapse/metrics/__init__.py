"""Measurement: the judge, per-class FID, KID and PRDC, and class frequencies."""
