"""Pictures of a run: sample grids and per-generation plots."""
