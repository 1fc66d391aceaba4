"""Tools of the AIInfra course: content checks, figure scripts, benchmarks."""
