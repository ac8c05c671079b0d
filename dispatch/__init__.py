"""The dispatcher: recommends units, claims them race-free, and runs the assignment lifecycle."""
