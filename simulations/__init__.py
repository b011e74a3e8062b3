"""Experiment drivers and benchmarks (``lanhar-fl bench NAME`` runs ``bench_NAME.run(cfg)``)."""
