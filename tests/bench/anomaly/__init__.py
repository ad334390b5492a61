"""Anomaly detectors against a labelled corpus of synthetic hall series: `python -m tests.bench.anomaly`.

corpus.py (with hall_day.py) writes the labelled series, scoring.py scores
firings against the label windows as NAB does, baseline.py is NAB's
windowed-Gaussian detector (the reference row), and run.py replays every
configuration and prints the table and the targets.
"""
