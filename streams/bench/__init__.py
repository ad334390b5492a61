"""`govpulse bench`: govpulse against its ceiling and an idiomatic Faust peer, on the same events, in one run.

load.py pre-generates the traffic; ceiling.py and peer.py are the two
comparison pipelines, each run as its own process; run.py drives the three
rows, samples every process and prints the table.
"""
