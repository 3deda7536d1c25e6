"""The road of a return: the blank template (template), reading the file (read), locating its columns, normalising and checking its cells, and storing it (pipeline)."""
