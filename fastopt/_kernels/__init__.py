"""Kernels: @njit functions only, no validation; the public wrappers check inputs."""
