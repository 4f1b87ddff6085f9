"""The recursive loop: generations, the run folder, resume."""
