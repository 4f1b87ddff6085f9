"""The null: the loop's label-level twin (twin.py), its chains run by the thousand with a perfect generator
(chains.py), their bands and p-values (bands.py), and one generation's check against them (check.py)."""
