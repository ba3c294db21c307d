"""The matcher's pure core: numpy arrays and values in, results out; no database, broker or
web framework.

- `scoring`: the score of every mentee against every mentor, and its versioned weights;
- `pool`: mentees, mentors, and the mentor pool with the hard constraints;
- `ranking`: one mentee's proposals best first, shortlists, and the exposure rule;
- `explain`: the explanation a person reads with each proposal;
- `assignment`: cohort rounds, the candidate graph and the optimal (and greedy) assignment.
"""
