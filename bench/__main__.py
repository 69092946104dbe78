"""`python -m bench` entry point."""

from bench.entry import main

main()
