"""A batch as files: CSV/SDF exports written row by row, results.zip built by a worker, and the\nnames of the pictures inside it."""
