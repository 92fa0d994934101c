"""Benchmarks of omnirouter (`make bench`): a table on stdout and a JSON report in results/."""
