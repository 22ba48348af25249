"""The sentiment-scorer hop: turns a subnet's tweets into one score from -100 to 100.

Chutes (an LLM) scores when a key is configured and the local VADER model otherwise, so the
pipeline runs end to end without credentials. A reply that cannot be read is "no score", never 0.
"""
