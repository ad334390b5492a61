"""Rolling indicators: their definitions, and the queries that read them from ClickHouse."""
