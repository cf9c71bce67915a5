"""Shared test configuration.

This folder is not a package, so pytest puts it on `sys.path` while it loads this file:
test modules in sub-folders can then import the helpers beside it (`from fec_files import ...`).
"""
