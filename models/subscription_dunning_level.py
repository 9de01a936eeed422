from odoo import api, fields, models
from odoo.exceptions import ValidationError


class SubscriptionDunningLevel(models.Model):
    """A step of the company's dunning: reached a number of days after the due date.

    Carries what the step costs the customer (fee, default interest, the € 40 flat
    fee for businesses), how it is invoiced, the e-mail and the action on the
    customer's subscriptions.
    """

    _name = "subscription.dunning.level"
    _description = "Dunning Level"
    _order = "company_id, days_after_due, id"
    _check_company_auto = True

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    days_after_due = fields.Integer(
        string="Days Overdue", required=True, help="Reached this many days after the due date (or the return date)."
    )
    fee_product_id = fields.Many2one(
        "product.product",
        check_company=True,
        default=lambda self: self.env.ref("subscription_billing.product_dunning_fee", raise_if_not_found=False),
    )
    fee_amount = fields.Monetary(string="Fee", currency_field="currency_id", help="Charged once per letter.")
    fee_invoicing = fields.Selection(
        [("next_invoice", "On the next invoice"), ("own_invoice", "On its own invoice")],
        string="Invoice Fees",
        required=True,
        default="next_invoice",
        help="Fees and interest go on the customer's next subscription invoice (as one-time charges), or on "
        "an invoice of their own posted with the letter. Without an active subscription they get their own invoice.",
    )
    charge_interest = fields.Boolean(
        string="Default Interest", help="Claim default interest (§ 288 BGB) on the overdue items of this letter."
    )
    charge_flat_fee = fields.Boolean(
        string="Flat Fee for Businesses",
        help="Claim the € 40 flat fee of § 288 (5) BGB once per overdue invoice of a business customer, if the "
        "company enables it.",
    )
    action = fields.Selection(
        [("none", "None"), ("suspend", "Suspend subscriptions"), ("cancel", "Cancel subscriptions")],
        required=True,
        default="none",
        help="Suspend: the customer's subscriptions are paused (no service, not billed) until the overdue "
        "items are paid. Cancel: notice is given on them.",
    )
    create_activity = fields.Boolean(help="Create a to-do for the person responsible for the customer.")
    mail_template_id = fields.Many2one(
        "mail.template",
        string="E-mail Template",
        domain=[("model", "=", "subscription.dunning.letter")],
        default=lambda self: self.env.ref(
            "subscription_billing.mail_template_dunning_letter", raise_if_not_found=False
        ),
    )

    # ------------------------------------------------------------------
    # Constraints
    # ------------------------------------------------------------------
    _days_company_unique = models.Constraint(
        "UNIQUE(company_id, days_after_due)", "Two dunning levels of a company cannot start on the same day."
    )
    _days_positive = models.Constraint(
        "CHECK(days_after_due >= 0)", "A dunning level starts on or after the due date (days overdue ≥ 0)."
    )
    _fee_positive = models.Constraint("CHECK(fee_amount >= 0)", "A dunning fee cannot be negative.")

    @api.constrains("fee_amount", "fee_product_id")
    def _check_fee_product(self):
        for level in self:
            if level.fee_amount and not level.fee_product_id:
                raise ValidationError(
                    self.env._("Dunning level %(level)s charges a fee: set its fee product.", level=level.display_name)
                )
