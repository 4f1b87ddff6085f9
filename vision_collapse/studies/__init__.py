"""Everything over many runs: seeds, arms, attribution, remedies and doses, and how their jobs start."""
