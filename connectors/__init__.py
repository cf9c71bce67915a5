"""Connectors: one module per external tool; they speak the common model and nothing else."""
