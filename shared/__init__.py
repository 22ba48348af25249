"""What the gateway and every consumer share: settings, logging, contracts, records, chain access.

Nothing in here imports ``gateway`` or ``consumers``: dependencies point inward.
"""
