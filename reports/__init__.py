"""Leadership's numbers: response times, compliance with the catalogue's targets, offers, grid cases and
shift summaries, computed in PostgreSQL from the canonical times and the event log."""
