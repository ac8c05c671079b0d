"""Simulation: the demo city of ``dispatch-center up --demo`` and ``dispatch-center simulate --replay``.

Everything here talks to the center the way real clients do: HTTP under ``/api/v1`` and the two
WebSockets, with tokens signed by the center's key. Nothing here reaches into the center's stores.
"""
