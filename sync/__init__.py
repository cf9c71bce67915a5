"""Sync: configuration, the store, reconciliation and the nightly run."""
