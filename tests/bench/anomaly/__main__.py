"""`python -m tests.bench.anomaly [--smoke] [--rules ...]`: the anomaly benchmark (run.py)."""

import sys

from tests.bench.anomaly.run import main

main(sys.argv[1:])
