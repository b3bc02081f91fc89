"""ShopMate's benchmarks: latency, the seed comparison, Slack budget under load, throughput,
storage, memory and cost per turn, measured against the real app and the offline fakes.

Run `python -m bench` from the repository root (about 3 minutes; `--quick` about 1.5); it prints
a table and writes bench/RESULTS.md. Benchmarks are not tests: nothing here asserts a time.
"""
