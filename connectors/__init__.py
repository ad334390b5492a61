"""Connectors: ClickHouse, Kafka, Redis, the HTTP gateway and the city-node SDK."""
