"""`python -m bench`: the server benchmarks (see bench/server_bench.py)."""

from bench.server_bench import main

main()
