"""The foundation every layer uses: settings, database and migrations, logs, and what Temporal
itself must know (connection, search attributes, task queues)."""
