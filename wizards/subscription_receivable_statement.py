from odoo import api, fields, models
from odoo.tools import format_date

from ..billing_core import ageing

AGEING_BUCKET_SELECTION = [
    (ageing.NOT_DUE, "Not Due"),
    (ageing.DAYS_1_30, "1–30 Days"),
    (ageing.DAYS_31_60, "31–60 Days"),
    (ageing.DAYS_61_90, "61–90 Days"),
    (ageing.OVER_90, "Over 90 Days"),
]


class SubscriptionReceivableStatement(models.TransientModel):
    """Open items of one customer on a statement date: the ageing totals, the list of open items
    (grouped by ageing bucket) and the printable customer statement."""

    _name = "subscription.receivable.statement"
    _description = "Customer Statement"
    _check_company_auto = True

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company)
    currency_id = fields.Many2one(related="company_id.currency_id")
    partner_id = fields.Many2one("res.partner", string="Customer", required=True, check_company=True)
    commercial_partner_id = fields.Many2one(related="partner_id.commercial_partner_id")
    date_ref = fields.Date(string="Statement Date", required=True, default=fields.Date.context_today)
    line_ids = fields.One2many("subscription.receivable.statement.line", "statement_id", string="Open Items")
    amount_not_due = fields.Monetary(string="Not Due", compute="_compute_ageing")
    amount_1_30 = fields.Monetary(string="1–30 Days", compute="_compute_ageing")
    amount_31_60 = fields.Monetary(string="31–60 Days", compute="_compute_ageing")
    amount_61_90 = fields.Monetary(string="61–90 Days", compute="_compute_ageing")
    amount_over_90 = fields.Monetary(string="Over 90 Days", compute="_compute_ageing")
    amount_overdue = fields.Monetary(string="Overdue", compute="_compute_ageing")
    amount_total = fields.Monetary(string="Total Due", compute="_compute_ageing")

    # ------------------------------------------------------------------
    # Compute methods
    # ------------------------------------------------------------------
    @api.depends("partner_id", "date_ref", "company_id")
    def _compute_ageing(self):
        for statement in self:
            totals = (
                statement._get_statement_data()["ageing"]
                if statement.partner_id and statement.date_ref
                else dict.fromkeys((*ageing.BUCKETS, "total", "overdue"), 0.0)
            )
            statement.amount_not_due = totals[ageing.NOT_DUE]
            statement.amount_1_30 = totals[ageing.DAYS_1_30]
            statement.amount_31_60 = totals[ageing.DAYS_31_60]
            statement.amount_61_90 = totals[ageing.DAYS_61_90]
            statement.amount_over_90 = totals[ageing.OVER_90]
            statement.amount_overdue = totals["overdue"]
            statement.amount_total = totals["total"]

    # ------------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------------
    @api.model
    def default_get(self, fields):
        values = super().default_get(fields)
        # opened from the action menu of a customer or a subscription
        active_model = self.env.context.get("active_model")
        active_id = self.env.context.get("active_id")
        if "partner_id" in fields and not values.get("partner_id") and active_id:
            if active_model == "res.partner":
                values["partner_id"] = self.env["res.partner"].browse(active_id).commercial_partner_id.id
            elif active_model == "subscription.subscription":
                subscription = self.env["subscription.subscription"].browse(active_id)
                values["partner_id"] = subscription.partner_invoice_id.commercial_partner_id.id
                values["company_id"] = subscription.company_id.id
        return values

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------
    def action_view_open_items(self):
        """The open items on the statement date, grouped by ageing bucket, with totals."""
        self.ensure_one()
        self._generate_lines()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "subscription_billing.subscription_receivable_statement_line_action"
        )
        action["domain"] = [("statement_id", "=", self.id)]
        action["name"] = self.env._(
            "Open Items of %(customer)s on %(date)s",
            customer=self.commercial_partner_id.display_name,
            date=format_date(self.env, self.date_ref),
        )
        return action

    def action_print(self):
        """The customer statement PDF."""
        return self.env.ref("subscription_billing.action_report_customer_statement").report_action(self)

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    @api.model
    def _get_wizard_action(self, partner):
        """Window action opening the statement wizard for ``partner``'s commercial partner."""
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "subscription_billing.subscription_receivable_statement_action"
        )
        action["context"] = {"default_partner_id": partner.commercial_partner_id.id}
        return action

    def _get_statement_data(self):
        """``{"items": open items, "ageing": totals per bucket}`` on the statement date, read in the
        statement's company (see ``res.partner._get_subscription_open_items``)."""
        self.ensure_one()
        partner = self.commercial_partner_id.with_company(self.company_id)
        items = partner._get_subscription_open_items(self.date_ref)
        return {"items": items, "ageing": partner._get_subscription_ageing(self.date_ref, items=items)}

    def _generate_lines(self):
        """(Re)create the list lines from the open items on the statement date."""
        self.ensure_one()
        self.line_ids.unlink()
        self.env["subscription.receivable.statement.line"].create(
            [
                {
                    "statement_id": self.id,
                    "move_line_id": item["move_line"].id,
                    "date": item["date"],
                    "date_maturity": item["date_maturity"],
                    "amount": item["amount"],
                    "amount_residual": item["amount_residual"],
                    "item_currency_id": item["currency"].id,
                    "amount_currency": item["amount_currency"],
                    "amount_residual_currency": item["amount_residual_currency"],
                    "days_overdue": item["days_overdue"],
                    "ageing_bucket": item["bucket"],
                }
                for item in self._get_statement_data()["items"]
            ]
        )


class SubscriptionReceivableStatementLine(models.TransientModel):
    """One open item of a customer statement (a receivable journal item and its age)."""

    _name = "subscription.receivable.statement.line"
    _description = "Customer Statement Open Item"
    _order = "date_maturity, date, id"

    statement_id = fields.Many2one("subscription.receivable.statement", required=True, ondelete="cascade")
    company_id = fields.Many2one(related="statement_id.company_id", store=True)
    currency_id = fields.Many2one(related="statement_id.currency_id", string="Company Currency")
    partner_id = fields.Many2one(related="move_line_id.partner_id")
    move_line_id = fields.Many2one("account.move.line", string="Journal Item", required=True, ondelete="cascade")
    move_id = fields.Many2one(related="move_line_id.move_id", string="Document")
    ref = fields.Char(related="move_line_id.move_id.ref", string="Reference")
    date = fields.Date()
    date_maturity = fields.Date(string="Due Date")
    amount = fields.Monetary(string="Original Amount")
    amount_residual = fields.Monetary(string="Open Amount")
    item_currency_id = fields.Many2one("res.currency", string="Currency")
    amount_currency = fields.Monetary(string="Original Amount in Currency", currency_field="item_currency_id")
    amount_residual_currency = fields.Monetary(string="Open Amount in Currency", currency_field="item_currency_id")
    days_overdue = fields.Integer(aggregator=False)
    # group_expand: the list grouped by bucket shows every bucket, youngest first, even when empty
    ageing_bucket = fields.Selection(AGEING_BUCKET_SELECTION, string="Ageing", group_expand=True)

    def action_open_document(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "account.move",
            "res_id": self.move_id.id,
            "view_mode": "form",
        }
