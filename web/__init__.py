"""The HTTP API, authentication and roles, the sockets' front door, and the pages."""
