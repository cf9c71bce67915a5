"""Seed a Tryton database with a small French company, through Tryton's own code (proteus).

Usage: python scenario.py DATABASE CONFIG_FILE TODAY
       python scenario.py --grant DATABASE CONFIG_FILE    (once party_encours is active)
       python scenario.py --company-only DATABASE CONFIG_FILE TODAY    (no documents)

Run once per test session on a freshly activated database; the tests copy the result. Dates
are relative to TODAY (ISO), so the ageing is the same whatever day the tests run.

The company "PME Démo SAS" (EUR, French chart of accounts from account_fr, 20 % VAT) has
three customers with a SIREN; what each one owes is in EXPECTED below, and the tests read
Tryton's own figures to check encours against them.

| customer | document | date | terms | TTC | state |
|---|---|---|---|---|---|
| Alpha | FA-1 | T-100 | 30 jours | 1 200 | posted, overdue since T-70 |
| Alpha | FA-3 | T-50 | 30 jours | 2 400 | 1 000 paid at T-10, 1 400 overdue since T-20 |
| Alpha | FA-8 | T-10 | 45 jours fin de mois | 600 | posted, not due |
| Alpha | (validated) | T-2 | 30 jours | 360 | validated, not posted: unbilled |
| Beta | FA-4 | T-45 | 50 % à 30 j, solde à 60 j | 3 600 | posted: 1 800 overdue, 1 800 not due |
| Beta | FA-5 | T-40 | 30 jours | 960 | paid in full at T-5 |
| Beta | AV-1 | T-20 | comptant | -120 | credit note, open |
| Beta | (draft) | T-1 | 30 jours | 840 | draft: unbilled |
| Beta | transfer | T-3 | | -300 | received, applied to nothing |
| Gamma | FA-2 | T-60 | comptant | 1 200 | deposit invoice (1 000 HT on 4191), paid T-58 |
| Gamma | FA-6 | T-20 | 30 jours | 4 800 | 6 000 less the deposit recalled (1 200) |
| Gamma | FA-7 | T-15 | comptant | 600 | deposit invoice (500 HT), paid T-14, not recalled |
"""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from proteus import Model, Wizard
from proteus import config as proteus_config

#: The sync user encours logs in as, and a user who may not write the indicators.
SYNC_LOGIN, SYNC_PASSWORD = "encours", "encours-sync-secret-1"
OTHER_LOGIN, OTHER_PASSWORD = "comptable", "comptable-secret-1"


def main(database: str, config_file: str, today: dt.date, *, documents: bool = True) -> None:
    config = proteus_config.set_trytond(database, config_file=config_file)
    config.skip_warning = True  # back-dated invoices warn "payment date in the past"

    def day(offset: int) -> dt.date:
        return today + dt.timedelta(days=offset)

    currency_model = Model.get("currency.currency")
    eur = currency_model(
        name="Euro", symbol="€", code="EUR", rounding=Decimal("0.01"), numeric_code="978"
    )
    eur.save()
    party_model = Model.get("party.party")
    company_party = party_model(name="PME Démo SAS")
    company_party.save()
    setup = Wizard("company.company.config")
    setup.execute("company")
    setup.form.party = company_party
    setup.form.currency = eur
    setup.form.timezone = "Europe/Paris"
    setup.execute("add")
    user_model = Model.get("res.user")
    config._context = user_model.get_preferences(True, {})
    (company,) = Model.get("company.company").find()

    # French chart of accounts.
    account_model = Model.get("account.account")
    model_data = Model.get("ir.model.data")
    chart = Wizard("account.create_chart")
    chart.execute("account")
    chart.form.account_template = Model.get("account.account.template")(
        model_data.get_id("account_fr", "root", config.context)
    )
    chart.form.company = company
    chart.execute("create_account")

    def account(code: str):  # noqa: ANN202
        (found,) = account_model.find([("code", "=", code), ("company", "=", company.id)])
        return found

    receivable = account("4111")
    chart.form.account_receivable = receivable
    chart.form.account_payable = account("4011")
    chart.execute("create_properties")
    revenue, bank = account("706"), account("5121")

    # account_fr does not flag 4191 (advances received) as a deposit account: make it one.
    deposit_account = account("4191")
    deposit_type = deposit_account.type
    deposit_type.template_override = True
    deposit_type.save()
    deposit_type.deposit = True
    deposit_type.save()
    deposit_account.template_override = True
    deposit_account.save()
    deposit_account.reconcile = True
    deposit_account.party_required = True
    deposit_account.save()

    # Fiscal year with monthly periods; invoices FA<year>-n, credit notes AV<year>-n.
    start = today - relativedelta(months=8, day=1)
    fiscal_year = Model.get("account.fiscalyear")(
        name=f"Exercice {start.year}",
        start_date=start,
        end_date=start + relativedelta(years=1, days=-1),
        company=company,
    )
    strict = Model.get("ir.sequence.strict")
    sequence_type = Model.get("ir.sequence.type")
    (move_type,) = sequence_type.find([("name", "=", "Account Move")], limit=1)
    fiscal_year.move_sequence = strict(name="Pièces", sequence_type=move_type, company=company)
    fiscal_year.move_sequence.save()
    (invoice_type,) = sequence_type.find([("name", "=", "Invoice")], limit=1)
    invoices = strict(
        name="Factures", sequence_type=invoice_type, company=company, prefix="FA${year}-"
    )
    invoices.save()
    credit_notes = strict(
        name="Avoirs", sequence_type=invoice_type, company=company, prefix="AV${year}-"
    )
    credit_notes.save()
    (sequences,) = fiscal_year.invoice_sequences
    sequences.out_invoice_sequence = sequences.in_invoice_sequence = invoices
    sequences.out_credit_note_sequence = sequences.in_credit_note_sequence = credit_notes
    fiscal_year.save()
    fiscal_year.click("create_period")

    tax_model = Model.get("account.tax")
    (vat,) = tax_model.find(
        [("name", "=", "T.V.A. Vente de services Taux Normal"), ("company", "=", company.id)]
    )
    term_model = Model.get("account.invoice.payment_term")
    net30 = term_model(name="30 jours")
    net30.lines.new(type="remainder").relativedeltas.new(days=30)
    net30.save()
    end_of_month = term_model(name="45 jours fin de mois")
    line = end_of_month.lines.new(type="remainder")
    line.relativedeltas.new(days=45)
    line.relativedeltas.new(day=31)
    end_of_month.save()
    split = term_model(name="50 % à 30 jours, solde à 60 jours")
    line = split.lines.new(type="percent", ratio=Decimal("0.5"))
    line.relativedeltas.new(days=30)
    split.lines.new(type="remainder").relativedeltas.new(days=60)
    split.save()
    cash = term_model(name="Comptant")
    cash.lines.new(type="remainder")
    cash.save()
    (cash_journal,) = Model.get("account.journal").find([("code", "=", "CASH")])
    transfer = Model.get("account.invoice.payment.method")(
        name="Virement",
        company=company,
        journal=cash_journal,
        credit_account=bank,
        debit_account=bank,
    )
    transfer.save()

    procedure = Model.get("account.dunning.procedure")(name="Relances")
    for sequence, days in ((1, 1), (2, 15), (3, 45)):
        level = procedure.levels.new()
        level.sequence = sequence
        level.overdue = dt.timedelta(days)
    procedure.save()

    # The user encours logs in as (given the module's group by `grant`, once the module is
    # active), and a user of the accounting department who may not write the indicators.
    accounting = model_data.get_id("account", "group_account", {})
    for login, name, password in (
        (SYNC_LOGIN, "encours", SYNC_PASSWORD),
        (OTHER_LOGIN, "Comptable", OTHER_PASSWORD),
    ):
        user = user_model(login=login, name=name, password=password)
        user.groups.append(Model.get("res.group")(accounting))  # a record joins one list only
        user.companies.append(Model.get("company.company")(company.id))
        user.company = Model.get("company.company")(company.id)
        user.save()

    if not documents:  # the company alone, for the benchmark's bulk documents
        return

    def customer(name: str, siren: str, vat_number: str | None, limit: str | None):  # noqa: ANN202
        party = party_model(name=name)
        party.identifiers.new(type="fr_siren", code=siren)
        if vat_number:
            party.identifiers.new(type="eu_vat", code=vat_number)
        party.dunning_procedure = procedure
        if limit is not None:
            party.credit_limit_amount = Decimal(limit)
        party.addresses[0].city = "Lyon"
        party.addresses[0].postal_code = "69001"
        party.save()
        return party

    alpha = customer("Alpha Industrie SARL", "732829320", "FR44732829320", "5000")
    beta = customer("Beta Distribution SA", "552100554", None, "10000")
    gamma = customer("Gamma Services EURL", "542065479", None, None)
    supplier = party_model(name="Fournitures Delta")  # a party that is no customer
    supplier.save()
    # Tryton's own bookkeeping, one customer a case (see the second table of the docstring).
    overpaid = customer("Delta Conseil SAS", "443061841", None, None)
    cancelled = customer("Epsilon Logistique SARL", "334055746", None, None)
    credited = customer("Zeta Industrie SA", "381865229", None, None)
    drafted = customer("Eta Services SAS", "490012341", None, None)
    written_off = customer("Theta Bureautique SARL", "512345679", None, None)
    refunded = customer("Iota Formation SAS", "622048510", None, None)
    grouped = customer("Kappa Transports SA", "799003520", None, None)
    by_instalment = customer("Lambda Emballages SAS", "410236954", None, None)
    company.cancel_invoice_out = True  # cancelling a posted customer invoice is off by default
    company.save()

    invoice_model = Model.get("account.invoice")

    def invoice(party, on, terms, lines, reference, *, post=True):  # noqa: ANN001, ANN202
        document = invoice_model(
            type="out", party=party, payment_term=terms, invoice_date=on, reference=reference
        )
        for description, quantity, price, line_account in lines:
            line = document.lines.new()
            line.account = line_account
            line.description = description
            line.quantity = quantity
            line.unit_price = Decimal(price)
            line.taxes.append(tax_model(vat.id))
        document.save()
        if post:
            document.click("post")
        return document

    def pay(document, amount: str, on: dt.date, kind: str = "partial", writeoff=None) -> None:  # noqa: ANN001
        payment = document.click("pay")
        payment.form.amount = Decimal(amount)
        payment.form.payment_method = transfer
        payment.form.date = on
        payment.execute("choice")
        if payment.state != "end":  # not what is due: partial, overpayment or write-off
            payment.form.type = kind
            payment.form.writeoff = writeoff
            payment.execute("pay")

    # Posted in date order: French invoice numbering is strictly chronological.
    invoice(alpha, day(-100), net30, [("Audit SI", 1, "1000", revenue)], "CMD-A1")
    credited_invoice = invoice(
        credited, day(-70), net30, [("Ligne de production", 1, "1500", revenue)], "CMD-Z1"
    )
    short_paid = invoice(written_off, day(-60), net30, [("Copieurs", 1, "500", revenue)], "CMD-T1")
    deposit1 = invoice(
        gamma,
        day(-60),
        cash,
        [("Acompte 20 % commande G-100", 1, "1000", deposit_account)],
        "ACPT-G1",
    )
    partly_paid = invoice(alpha, day(-50), net30, [("Développement", 4, "500", revenue)], "CMD-A2")
    invoice(beta, day(-45), split, [("Projet ERP", 3, "1000", revenue)], "CMD-B1")
    in_two = invoice(by_instalment, day(-45), split, [("Cartons", 1, "1000", revenue)], "CMD-L1")
    invoice(cancelled, day(-45), net30, [("Transport", 1, "500", revenue)], "CMD-E2")
    paid = invoice(beta, day(-40), net30, [("Formation", 2, "400", revenue)], "CMD-B2")
    overpaid_invoice = invoice(overpaid, day(-40), net30, [("Audit", 1, "1000", revenue)], "CMD-D1")
    cancelled_invoice = invoice(
        cancelled, day(-35), net30, [("Entreposage", 1, "800", revenue)], "CMD-E1"
    )
    grouped_invoices = [
        invoice(grouped, day(-25), net30, [(f"Tournée {n}", 1, price, revenue)], f"CMD-K{n}")
        for n, price in ((1, "100"), (2, "200"), (3, "300"))
    ]
    pay(deposit1, str(deposit1.total_amount), day(-58))

    final = invoice(
        gamma, day(-20), net30, [("Commande G-100", 1, "5000", revenue)], "CMD-G100", post=False
    )
    recall = final.click("recall_deposit")
    recall.form.account = deposit_account
    recall.form.description = "Reprise acompte ACPT-G1"
    recall.execute("recall")
    final.reload()
    line_model = Model.get("account.invoice.line")
    for line in final.lines:
        if line.account == deposit_account and not line.taxes:
            recalled = line_model(line.id)  # the recall line gets no VAT by default
            recalled.taxes.append(tax_model(vat.id))
            recalled.save()
    final.reload()
    final.click("post")
    invoice(written_off, day(-20), net30, [("Toner", 1, "250", revenue)], "CMD-T2")

    invoice(beta, day(-20), cash, [("Remise commerciale projet ERP", -1, "100", revenue)], "AV-B1")
    deposit2 = invoice(
        gamma, day(-15), cash, [("Acompte commande G-200", 1, "500", deposit_account)], "ACPT-G2"
    )
    invoice(alpha, day(-10), end_of_month, [("Maintenance", 1, "500", revenue)], "CMD-A3")
    refunded_invoice = invoice(
        cancelled, day(-9), net30, [("Manutention", 1, "400", revenue)], "CMD-E3"
    )
    invoice(overpaid, day(-8), net30, [("Conseil", 1, "500", revenue)], "CMD-D2")
    small = invoice(credited, day(-6), cash, [("Pièces", 1, "100", revenue)], "CMD-Z2")
    validated = invoice(
        alpha, day(-2), net30, [("Licences", 1, "300", revenue)], "CMD-A4", post=False
    )
    validated.click("validate_invoice")
    invoice(
        beta, day(-1), net30, [("Prestation à facturer", 1, "700", revenue)], "CMD-B3", post=False
    )
    pay(partly_paid, "1000", day(-10))
    pay(paid, "960", day(-5))
    pay(deposit2, str(deposit2.total_amount), day(-14))
    more = _Bookkeeping(invoice, pay, day, revenue, cash)
    more.overpay(overpaid_invoice)
    more.write_off(short_paid, company, account)
    more.refund_credit_notes(refunded)
    more.credit_through_payment_lines(credited, credited_invoice, small)
    more.cancel(cancelled_invoice, refunded_invoice)
    more.drafts(drafted, net30)
    more.pay_together(grouped, grouped_invoices[:2], cash_journal, bank, receivable)
    more.pay_one_instalment(by_instalment, in_two, cash_journal, bank, receivable)

    move = Model.get("account.move")(
        journal=cash_journal, date=day(-3), description="Virement Beta non affecté"
    )
    move.lines.new(account=bank, debit=Decimal("300"))
    move.lines.new(account=receivable, credit=Decimal("300"), party=beta)
    move.save()
    move.click("post")

    dunning = Wizard("account.dunning.create")
    dunning.form.date = today
    dunning.execute("create_")


class _Bookkeeping:
    """What Tryton's own wizards book, each for its customer, after the invoices are posted.

    Credit notes are numbered in their own sequence, in date order too.
    """

    def __init__(self, invoice, pay, day, revenue, terms) -> None:  # noqa: ANN001
        self.invoice, self.pay, self.day = invoice, pay, day
        self.revenue, self.terms = revenue, terms

    def _credit_note(self, party, offset: int, price: str, reference: str):  # noqa: ANN001, ANN202
        return self.invoice(
            party, self.day(offset), self.terms, [("Avoir", -1, price, self.revenue)], reference
        )

    def overpay(self, document) -> None:  # noqa: ANN001
        """Delta pays 1 500.00 for 1 200.00: the pay wizard books 300.00 apart, open."""
        self.pay(document, "1500", self.day(-12), "overpayment")

    def write_off(self, document, company, account) -> None:  # noqa: ANN001
        """Theta pays 590.00 of 600.00; the pay wizard writes the 10.00 off."""
        journal = Model.get("account.journal")(name="Écarts", code="ECA", type="write-off")
        journal.save()
        method = Model.get("account.move.reconcile.write_off")(
            name="Écart de règlement",
            company=company,
            journal=journal,
            credit_account=account("758"),
            debit_account=account("658"),
        )
        method.save()
        self.pay(document, "590", self.day(-28), "writeoff", method)

    def refund_credit_notes(self, party) -> None:  # noqa: ANN001
        """Iota: a credit note of 240.00 paid back whole, one of 120.00 of which 50.00."""
        whole = self._credit_note(party, -6, "200", "AV-I1")
        part = self._credit_note(party, -6, "100", "AV-I2")
        self.pay(whole, "-240", self.day(-3))
        self.pay(part, "-50", self.day(-3))

    def credit_through_payment_lines(self, party, document, small) -> None:  # noqa: ANN001
        """Zeta: credit notes of 300.00 and 120.00 put in invoices' payment lines."""
        line_model = Model.get("account.move.line")
        for target, price, reference in ((document, "250", "AV-Z1"), (small, "100", "AV-Z2")):
            credit = self._credit_note(party, -5, price, reference)
            (line,) = credit.lines_to_pay
            target.payment_lines.append(line_model(line.id))
            target.save()

    def cancel(self, document, refunded) -> None:  # noqa: ANN001
        """Epsilon: one invoice cancelled outright, one credited with refund."""
        document.click("cancel")
        credit = Wizard("account.invoice.credit", [refunded])
        credit.form.with_refund = True
        credit.form.invoice_date = self.day(-4)
        credit.execute("credit")

    def drafts(self, party, terms) -> None:  # noqa: ANN001
        """Eta: a draft with no date yet, a validated invoice and a draft credit note."""
        self.invoice(party, None, terms, [("Étude", 1, "100", self.revenue)], "CMD-H1", post=False)
        validated = self.invoice(
            party, self.day(-3), terms, [("Audit", 1, "200", self.revenue)], "CMD-H2", post=False
        )
        validated.click("validate_invoice")
        self.invoice(
            party, self.day(-3), terms, [("Avoir", -1, "50", self.revenue)], "AV-H1", post=False
        )

    def pay_together(self, party, documents, journal, bank, receivable) -> None:  # noqa: ANN001
        """Kappa pays two invoices (120.00 + 240.00) with one transfer, reconciled with both."""
        move = Model.get("account.move")(journal=journal, date=self.day(-2), description="Kappa")
        move.lines.new(account=bank, debit=Decimal("360"))
        move.lines.new(account=receivable, credit=Decimal("360"), party=party)
        move.save()
        move.click("post")
        line_model = Model.get("account.move.line")
        (received,) = [line for line in move.lines if line.account == receivable]
        lines = [line_model(received.id)] + [
            line_model(line.id) for document in documents for line in document.lines_to_pay
        ]
        Wizard("account.move.reconcile_lines", lines)

    def pay_one_instalment(self, party, document, journal, bank, receivable) -> None:  # noqa: ANN001
        """Lambda's CMD-L1 (1 200.00 in two instalments of 600.00, due 15 days ago and in 15
        days) gets a transfer of 600.00 reconciled with its second instalment only."""
        move = Model.get("account.move")(journal=journal, date=self.day(-4), description="Lambda")
        move.lines.new(account=bank, debit=Decimal("600"))
        move.lines.new(account=receivable, credit=Decimal("600"), party=party)
        move.save()
        move.click("post")
        line_model = Model.get("account.move.line")
        (received,) = [line for line in move.lines if line.account == receivable]
        later = max(document.lines_to_pay, key=lambda line: line.maturity_date)
        Wizard("account.move.reconcile_lines", [line_model(received.id), line_model(later.id)])


def grant(database: str, config_file: str) -> None:
    """Put the sync user in the group of party_encours (after the module is activated)."""
    proteus_config.set_trytond(database, config_file=config_file)
    model_data = Model.get("ir.model.data")
    group = Model.get("res.group")(model_data.get_id("party_encours", "group_encours_sync", {}))
    (user,) = Model.get("res.user").find([("login", "=", SYNC_LOGIN)])
    user.groups.append(group)
    user.save()


if __name__ == "__main__":
    if sys.argv[1] == "--grant":
        grant(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "--company-only":
        main(sys.argv[2], sys.argv[3], dt.date.fromisoformat(sys.argv[4]), documents=False)
    else:
        main(sys.argv[1], sys.argv[2], dt.date.fromisoformat(sys.argv[3]))
