"""`python -m tests.bench [--sizes ...]`: govpulse against its ceiling and an idiomatic Faust peer."""

from tests.bench.run import main

main()
