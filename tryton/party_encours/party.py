"""The receivable indicators encours computes, stored on the party.

encours (https://pypi.org/project/encours/) reads the ledger, computes per customer the
outstanding (encours client), what is overdue, the aged balance, the DSO, the credit limit's
use, a risk grade with its main reason and the next step of the dunning plan, and writes
them here each night with one call:

    model.party.party.set_encours_indicators([[party_id, {field: value, ...}], ...])

The fields are read-only: the client shows them, a plain `write` is refused, and only
members of the group "Encours (synchronisation)" (and administrators, who have the rights of
every group) may call the method. The method writes the
columns directly, so a nightly update neither changes the party's write date (it is no
user's edit) nor runs the party's own write triggers.
"""

from sql.functions import CurrentTimestamp
from trytond.exceptions import UserError
from trytond.model import fields
from trytond.pool import Pool, PoolMeta
from trytond.rpc import RPC
from trytond.transaction import Transaction

__all__ = ["Party"]

AMOUNT = (15, 2)
DAYS = (15, 2)


def _amount(string, **kwargs):
    return fields.Numeric(string, digits=AMOUNT, readonly=True, **kwargs)


def _days(string):
    return fields.Numeric(string, digits=DAYS, readonly=True)


class Party(metaclass=PoolMeta):
    """The party, with the indicators encours computed for it."""

    __name__ = "party.party"

    encours_outstanding = _amount(
        "Encours client", help="Factures à établir + non échu + échu − règlements non imputés."
    )
    encours_overdue = _amount("Encours échu", help="Reste dû des échéances passées.")
    encours_not_due = _amount("Encours non échu")
    encours_unbilled = _amount("Factures à établir")
    encours_unapplied = _amount(
        "Règlements non imputés",
        help="Acomptes, règlements et avoirs reçus, affectés à aucune facture.",
    )
    encours_doubtful = _amount("Créances douteuses")
    encours_aging_1_30 = _amount("Échu 1-30 j")
    encours_aging_31_60 = _amount("Échu 31-60 j")
    encours_aging_61_90 = _amount("Échu 61-90 j")
    encours_aging_90_plus = _amount("Échu > 90 j")
    encours_oldest_overdue_days = fields.Integer("Retard le plus ancien (jours)", readonly=True)
    encours_dso = _days("DSO (jours)")
    encours_dso_method = fields.Char("Méthode du DSO", readonly=True)
    encours_best_possible_dso = _days("Meilleur DSO possible (jours)")
    encours_average_days_delinquent = _days("Retard moyen (jours)")
    encours_average_payment_delay = _days("Délai moyen de paiement (jours)")
    encours_credit_used = fields.Numeric(
        "Utilisation du plafond",
        digits=(11, 4),
        readonly=True,
        help="Encours divisé par le plafond de crédit (1 = plafond atteint).",
    )
    encours_on_hold = fields.Boolean("Blocage (plafond dépassé)", readonly=True)
    encours_credit_limit = _amount("Plafond d'encours")
    encours_exposure = _amount(
        "Engagement (encours + brouillons)",
        help="Encours client + factures en brouillon : ce que le plafond couvre.",
    )
    encours_risk_grade = fields.Char(
        "Note de risque",
        readonly=True,
        help="La pire des notes (A à D) du délai de paiement, du retard > 60 j, de la hausse "
        "du DSO et de l'utilisation du plafond.",
    )
    encours_risk_reason = fields.Char("Motif de la note", readonly=True)
    encours_next_dunning_step = fields.Char(
        "Prochaine relance",
        readonly=True,
        help="L'étape du plan de relance qui vient pour l'échéance ouverte la plus ancienne, "
        "et sa date.",
    )
    encours_as_of = fields.Date("Calculé au", readonly=True)
    encours_updated_at = fields.Timestamp("Mis à jour le", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__rpc__["set_encours_indicators"] = RPC(readonly=False)

    @classmethod
    def encours_fields(cls):
        """The names of the indicator fields the method may write."""
        return {
            name
            for name in cls._fields
            if name.startswith("encours_") and name != "encours_updated_at"
        }

    @classmethod
    def set_encours_indicators(cls, values):
        """Write the indicators of many parties in one transaction.

        values: [[party_id, {field: value}], ...], e.g.
        [[12, {"encours_outstanding": Decimal("3200.00"), "encours_on_hold": False}]].
        A value of None clears the field. Returns how many parties were written.
        """
        pool = Pool()
        ModelData = pool.get("ir.model.data")
        User = pool.get("res.user")
        transaction = Transaction()
        group = ModelData.get_id("party_encours", "group_encours_sync")
        if transaction.user and not User.is_administrator() and group not in User.get_groups():
            raise UserError(
                "Accès refusé : seul le groupe « Encours (synchronisation) » "
                "peut écrire les indicateurs d'encours."
            )
        allowed = cls.encours_fields()
        table = cls.__table__()
        cursor = transaction.connection.cursor()
        written = 0
        for party_id, party_values in values:
            unknown = set(party_values) - allowed
            if unknown:
                raise UserError(f"Champs inconnus ou non autorisés : {', '.join(sorted(unknown))}")
            names = sorted(party_values)
            columns = [getattr(table, name) for name in names]
            row = [cls._fields[name].sql_format(party_values[name]) for name in names]
            cursor.execute(
                *table.update(
                    columns + [table.encours_updated_at],
                    row + [CurrentTimestamp()],
                    where=table.id == int(party_id),
                )
            )
            if cursor.rowcount != 1:
                raise UserError(f"Tiers introuvable : {party_id}")
            written += 1
        return written
