"""The services one govpulse process runs, each started and stopped on its own; agents/stack.py orders them."""
