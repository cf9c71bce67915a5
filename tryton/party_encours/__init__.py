"""Tryton module party_encours: the receivable indicators of encours on the party form.

Registered from tryton.cfg; nothing runs on import.
"""
