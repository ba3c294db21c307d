"""Fitting the score's weights offline, from the outcomes of finished mentorships.

`python -m matching_service.weights` (see `--help`):

- `fit`: a regularised linear model of how well a mentorship went over the parts of its
  proposal's score, with cross-validation; writes `weights-vN.json` (the format of the packaged
  weights, plus the data it saw and its validation figures) into a folder the operator chooses;
- `replay`: how a weights file would have ranked the past proposals, against the weights in use;
- `generate`: a synthetic outcome set from known true weights, to try the two on;
- `export`: the outcomes in the matching database as a JSON file.

Nothing here runs inside the service: weights change only when an operator points
`SCORING_WEIGHTS_FILE` at a new file and restarts the matcher, and every proposal records the
weights version it was scored with.
"""
