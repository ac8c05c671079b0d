"""The WebSocket side: snapshot then ordered deltas, resume, per-role filtering, slow clients, fan-out."""
