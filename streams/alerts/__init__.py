"""The alert lifecycle: pending → firing → resolved, acks, silences and inhibition.

Pure logic driven by explicit timestamps. Rule evaluators feed `Observation`s
into an `AlertBook`, which returns the `Notice`s to publish; Kafka, Redis and
ClickHouse are wired around it elsewhere.
"""
