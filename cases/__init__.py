"""Grid cases: a grid report's workflow from acceptance to closing, supervision, the working-day calendar."""
