"""Reusable pieces for the benchmarks (network stand-ins)."""
