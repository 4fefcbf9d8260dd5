"""Benchmarks of ConsentMiddleware: run the scripts from the repository root (see README.md)."""
