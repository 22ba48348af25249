"""Redis Streams plumbing for the consumers: topology, hop runner, dead letters, app factory."""
