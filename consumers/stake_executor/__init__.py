"""stake-executor: turns a sentiment score into an add or remove stake, under a policy."""
