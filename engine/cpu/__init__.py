"""Portable CPU hash kernels compiled with numba."""
