"""Benchmarks of govpulse, kept out of the installed package: `python -m tests.bench` (or `make bench`).

load.py pre-generates the traffic; ceiling.py and peer.py are the two
comparison pipelines, each run as its own process; run.py drives the three
rows, samples every process and prints the table. The other modules here are
per-process benchmarks and the soak, each run with `python -m tests.bench.NAME`.
"""
