"""The composition root: settings, connections, migrations, embedded servers, the runtime and the CLI."""
