"""Road travel on an OpenStreetMap extract, offline: profiles, graphs, snapping and a router.

Shared by dispatch (ranking candidates by road), the pages (routes and streets), the simulator (units
driving on roads) and the bench. Nothing here knows about units or incidents.
"""
