"""ClickHouse: the client (chDB in-process or a server), migrations and the sink."""
