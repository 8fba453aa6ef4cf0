"""Mission Control's figures: counts that writers keep in their own transactions (consent
tallies, block and delivery counts, contacts at each journey step, what an erasure takes
away) and the readers that sum them, so a refresh never counts rows per contact."""
