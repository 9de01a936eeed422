from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..billing_core import origins, sepa
from .account_chart_template import DEFERRED_REVENUE_ACCOUNTS, REVERSE_CHARGE_SERVICES

#: fiscal positions of the German charts used when the company leaves the setting empty
SUBSCRIPTION_FPOS_DEFAULTS = {
    "reverse_charge": {
        "de_skr03": "fiscal_position_eu_vat_id_partner_skr03",
        "de_skr04": "fiscal_position_eu_vat_id_partner_skr04",
    },
    "export": {
        "de_skr03": "fiscal_position_non_eu_partner_service_skr03",
        "de_skr04": "fiscal_position_non_eu_partner_service_skr04",
    },
}


class ResCompany(models.Model):
    """SEPA direct-debit settings (the creditor), deferred-revenue settings and the fiscal positions of
    subscriptions."""

    _inherit = "res.company"

    deferred_revenue_account_id = fields.Many2one(
        "account.account",
        domain="[('account_type', 'in', ('liability_current', 'liability_non_current')), ('company_ids', 'in', id)]",
        help="Revenue invoiced for service months after the invoice month is booked here and recognised month by "
        "month (passive Rechnungsabgrenzung: 0990 in SKR03, 3900 in SKR04). Empty: no revenue is deferred.",
    )
    deferred_revenue_journal_id = fields.Many2one(
        "account.journal",
        string="Revenue Recognition Journal",
        domain="[('type', '=', 'general'), ('company_id', '=', id)]",
        help="Journal of the monthly recognition entries; the first miscellaneous journal when empty.",
    )
    deferred_revenue_method = fields.Selection(
        [("days", "By days"), ("equal", "Equal monthly parts")],
        string="Recognition Method",
        default="days",
        required=True,
        help="By days: each month gets the share of the service period's days in it. Equal monthly parts: every "
        "full month the same amount, partly covered months by their share of days.",
    )

    sepa_creditor_identifier = fields.Char(
        string="SEPA Creditor Identifier",
        help="Gläubiger-Identifikationsnummer, e.g. DE98ZZZ09999999999 (issued by the Bundesbank in Germany).",
    )
    sepa_prenotification_days = fields.Integer(
        string="Pre-notification (days)",
        default=14,
        help="Customers are told the amount and debit date at least this many days before the debit.",
    )
    sepa_rcur_only = fields.Boolean(
        string="Send First Collections as RCUR",
        help="Allowed since the 2016 rulebook; some banks prefer it. Otherwise first collections are FRST.",
    )
    sepa_pain_version = fields.Selection(
        [("pain.008.001.08", "pain.008.001.08 (current)"), ("pain.008.001.02", "pain.008.001.02 (legacy)")],
        string="Direct Debit Format",
        default="pain.008.001.08",
        required=True,
    )
    sepa_journal_id = fields.Many2one(
        "account.journal",
        string="Direct Debit Bank Journal",
        domain="[('type', '=', 'bank'), ('company_id', '=', id)]",
        help="Bank journal whose account receives the collections.",
    )
    sepa_return_fee_product_id = fields.Many2one(
        "product.product",
        string="Return Fee Product",
        help="Charged to the customer (on the next invoice) when a direct debit is returned.",
    )
    sepa_return_fee_amount = fields.Monetary(string="Return Fee", currency_field="currency_id")
    sepa_retry_limit = fields.Integer(
        string="Debit Retries",
        default=2,
        help="How often a debit returned for insufficient funds is presented again.",
    )
    subscription_charge_retry_schedule = fields.Char(
        string="Charge Retry Schedule",
        default="1,3,5,7",
        groups="account.group_account_manager",
        help="Days after the first failed charge of a saved payment method on which the invoice is charged "
        "again, e.g. 1,3,5,7 (at most 10 retries, each within 60 days). Empty: no retry; the invoice goes "
        "to dunning after the first failure. A plan may set its own.",
    )

    subscription_fpos_reverse_charge_id = fields.Many2one(
        "account.fiscal.position",
        string="Reverse Charge Position",
        domain="[('company_id', 'parent_of', id)]",
        help="Fiscal position of subscriptions billed to businesses in another EU country with a valid VAT "
        "number. Loading SKR03/SKR04 creates 'EU business, services (reverse charge)' (0% EU, Kz 21, revenue "
        "8336/4336) and sets it here. Empty: the chart's 'Business partner EU (with VAT ID)' position, else "
        "the automatic choice.",
    )
    subscription_fpos_export_id = fields.Many2one(
        "account.fiscal.position",
        string="Export Position",
        domain="[('company_id', 'parent_of', id)]",
        help="Fiscal position of subscriptions billed to customers outside the EU. Empty: the chart's "
        "'Service provider abroad (non-EU)' position (SKR03/SKR04: revenue not taxable in Germany, no VAT), "
        "else the automatic choice.",
    )

    subscription_sdk_allowed_origins = fields.Text(
        string="SDK Allowed Origins",
        help="Web origins (https://shop.example.com, one per line) whose pages may use the JavaScript SDK: "
        "call the self-service API with a session token from a browser (CORS) and receive the result of the "
        "hosted signup (postMessage). Empty: no browser page of another origin may.",
    )

    _sepa_prenotification_positive = models.Constraint(
        "CHECK(sepa_prenotification_days >= 1)",
        "The SEPA pre-notification period must be at least one day.",
    )

    @api.constrains("subscription_charge_retry_schedule")
    def _check_subscription_charge_retry_schedule(self):
        for company in self:
            self.env["subscription.payment.charging"]._parse_retry_schedule(
                company.sudo().subscription_charge_retry_schedule, company, "subscription_charge_retry_schedule"
            )

    @api.constrains("subscription_sdk_allowed_origins")
    def _check_subscription_sdk_allowed_origins(self):
        for company in self:
            _allowed, errors = origins.parse_origins(company.subscription_sdk_allowed_origins)
            if errors:
                raise ValidationError(
                    self.env._(
                        "SDK Allowed Origins of %(company)s: %(entry)s is not a web origin. Write one origin "
                        "per line, scheme and host without a path, like https://shop.example.com.",
                        company=company.name,
                        entry=errors[0][0],
                    )
                )

    @api.constrains("sepa_creditor_identifier")
    def _check_sepa_creditor_identifier(self):
        for company in self.filtered("sepa_creditor_identifier"):
            try:
                sepa.normalize_creditor_id(company.sepa_creditor_identifier)
            except ValueError as error:
                raise ValidationError(
                    self.env._(
                        "SEPA creditor identifier %(value)s of %(company)s is invalid: %(reason)s",
                        value=company.sepa_creditor_identifier,
                        company=company.name,
                        reason=self.env["res.partner.bank"]._get_sepa_error_reason(error),
                    )
                ) from error

    def _get_sepa_creditor_identifier(self):
        self.ensure_one()
        return sepa.normalize_creditor_id(self.sepa_creditor_identifier) if self.sepa_creditor_identifier else ""

    def _get_deferred_revenue_journal(self):
        """The journal of recognition entries: the configured one or the first miscellaneous journal."""
        self.ensure_one()
        return self.deferred_revenue_journal_id or self.env["account.journal"].search(
            [("type", "=", "general"), ("company_id", "=", self.id)], limit=1
        )

    def _set_default_deferred_revenue_account(self):
        """Use the chart's deferred-income account (0990 in SKR03, 3900 in SKR04) where none is set."""
        for company in self.filtered(lambda c: not c.deferred_revenue_account_id and c.chart_template):
            xml_id = DEFERRED_REVENUE_ACCOUNTS.get(company.chart_template)
            account = xml_id and self.env["account.chart.template"].with_company(company).ref(
                xml_id, raise_if_not_found=False
            )
            if account:
                company.deferred_revenue_account_id = account

    def _get_subscription_fpos_reverse_charge(self):
        """Fiscal position for EU reverse charge: the setting, else the chart's default."""
        self.ensure_one()
        return self.subscription_fpos_reverse_charge_id or self._get_subscription_fpos_default("reverse_charge")

    def _get_subscription_fpos_export(self):
        """Fiscal position for customers outside the EU: the setting, else the chart's default."""
        self.ensure_one()
        return self.subscription_fpos_export_id or self._get_subscription_fpos_default("export")

    def _get_subscription_fpos_default(self, kind):
        """The chart's fiscal position for ``kind`` (see ``SUBSCRIPTION_FPOS_DEFAULTS``), of this
        company or the nearest parent (branches share their parent's chart)."""
        self.ensure_one()
        xmlid = SUBSCRIPTION_FPOS_DEFAULTS[kind].get(self.chart_template)
        if not xmlid:
            return self.env["account.fiscal.position"]
        for company in self.parent_ids[::-1]:  # parent_ids runs from the root to this company
            fpos = self.env.ref(f"account.{company.id}_{xmlid}", raise_if_not_found=False)
            if fpos and fpos.active:
                return fpos
        return self.env["account.fiscal.position"]

    def _create_reverse_charge_services_position(self):
        """On SKR03/SKR04: a fiscal position for services to EU businesses (reverse charge), set as the
        subscriptions' reverse-charge position where none is set."""
        Chart = self.env["account.chart.template"]
        for company in self.filtered(lambda c: not c.subscription_fpos_reverse_charge_id):
            spec = REVERSE_CHARGE_SERVICES.get(company.chart_template)
            if not spec:
                continue
            chart = Chart.with_company(company)
            zero_tax = chart.ref(spec["zero_tax"], raise_if_not_found=False)
            taxes = [chart.ref(xml_id, raise_if_not_found=False) for xml_id in spec["taxes"]]
            accounts = {
                chart.ref(src, raise_if_not_found=False): chart.ref(dest, raise_if_not_found=False)
                for src, dest in spec["accounts"].items()
            }
            if not zero_tax or not all(taxes) or not all(a and b for a, b in accounts.items()):
                continue
            position = self.env["account.fiscal.position"].create(
                {
                    "name": self.env._("EU business, services (reverse charge)"),
                    "company_id": company.id,
                    "sequence": 25,
                    "vat_required": True,
                    "account_ids": [
                        fields.Command.create({"account_src_id": src.id, "account_dest_id": dest.id})
                        for src, dest in accounts.items()
                    ],
                }
            )
            zero_tax.copy(
                {
                    "name": self.env._("0% EU services (reverse charge)"),
                    "active": True,
                    "fiscal_position_ids": [fields.Command.set(position.ids)],
                    "original_tax_ids": [fields.Command.set([tax.id for tax in taxes])],
                }
            )
            company.subscription_fpos_reverse_charge_id = position

    # ------------------------------------------------------------------
    # Dunning (see subscription_dunning_run.py)
    # ------------------------------------------------------------------
    dunning_flat_fee_b2b = fields.Boolean(
        string="Flat Fee for Businesses (§ 288 (5) BGB)",
        help="Dunning levels that claim it charge business customers € 40 once per overdue invoice.",
    )

    # ------------------------------------------------------------------
    # Getters
    # ------------------------------------------------------------------
    def _get_sdk_allowed_origins(self):
        """The normalised origins of the setting (a tuple; empty when unset)."""
        self.ensure_one()
        return origins.parse_origins(self.sudo().subscription_sdk_allowed_origins)[0]
