"""Faust agents: thin shells that move data between topics and the domain logic."""
