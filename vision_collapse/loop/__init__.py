"""The recursive loop: what each generation trains on, who labels its samples, and resume."""
