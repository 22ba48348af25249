"""The pipeline's consumers: one FastStream app per hop."""
