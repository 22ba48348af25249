"""Fakes that speak the real protocols: the SDK's Substrate seam, HTTP servers on 127.0.0.1."""
