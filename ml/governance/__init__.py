"""Governance of the models: what riskops records and refuses about registered versions, apart from building them.

Modules in the order they import each other (none imports a later one): `registry` (MLflow's registry as riskops
reads and writes it: versions, pointers, tags, the audit trail, models as data), `champions` (the champion
history), `approvals` (which version may score; promotion, rejection, rollback, supersession under four eyes and
separation of duties), `halt` (the stop switch), `technical_file` (a version's technical file from the run's own
data), `review` (the documents an approver opens).
"""
