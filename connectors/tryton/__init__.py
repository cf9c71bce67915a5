"""Tryton over JSON-RPC: `rpc` (the session), `records` (rows to the model), `source`, `target`."""
