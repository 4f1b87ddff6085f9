"""vision_collapse: a testbed for model collapse of image generators on class-imbalanced data."""

__version__ = "0.1.0"
