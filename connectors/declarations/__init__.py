"""The declarations of the built-in connectors, one module each (`connectors/registry.py`)."""
