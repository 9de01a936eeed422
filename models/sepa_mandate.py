from dateutil.relativedelta import relativedelta
from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import format_date

#: allowed mandate transitions: source state -> target states
MANDATE_TRANSITIONS = {
    "draft": ("active", "revoked"),
    "active": ("revoked", "expired", "closed"),
    "revoked": (),
    "expired": (),
    "closed": (),
}

#: a mandate with no collection for this long is void (SEPA rulebook)
MANDATE_EXPIRY_MONTHS = 36


class SepaMandate(models.Model):
    """A customer's SEPA direct-debit mandate: the authorisation to debit one bank account."""

    _name = "sepa.mandate"
    _description = "SEPA Direct Debit Mandate"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "signature_date desc, id desc"
    _check_company_auto = True
    _rec_name = "reference"

    reference = fields.Char(
        string="Mandate Reference",
        required=True,
        copy=False,
        default="/",
        tracking=True,
        help="Unique per creditor identifier; taken from a sequence unless given.",
    )
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, index=True, tracking=True, check_company=True
    )
    commercial_partner_id = fields.Many2one(related="partner_id.commercial_partner_id", store=True, index=True)
    partner_bank_id = fields.Many2one(
        "res.partner.bank",
        string="Bank Account",
        required=True,
        tracking=True,
        check_company=True,
        domain="[('partner_id', 'child_of', commercial_partner_id)]",
    )
    signature_date = fields.Date(required=True, default=fields.Date.context_today, tracking=True)
    signature_place = fields.Char(tracking=True)
    consent_channel = fields.Selection(
        [("paper", "Signed paper form"), ("online", "Online (e-mandate)"), ("phone", "Phone (recorded)")],
        default="paper",
    )
    scheme = fields.Selection(
        [("CORE", "CORE (consumers)"), ("B2B", "B2B (businesses)")], required=True, default="CORE", tracking=True
    )
    mandate_type = fields.Selection(
        [("recurrent", "Recurrent"), ("oneoff", "One-off")], required=True, default="recurrent", tracking=True
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("active", "Active"),
            ("revoked", "Revoked"),
            ("expired", "Expired"),
            ("closed", "Closed"),
        ],
        default="draft",
        required=True,
        readonly=True,
        tracking=True,
        index=True,
    )
    first_collection_date = fields.Date(readonly=True, copy=False)
    last_collection_date = fields.Date(
        readonly=True, copy=False, help="Due date of the last collection presented (even if returned)."
    )
    next_sequence_type = fields.Selection(
        [("FRST", "FRST"), ("RCUR", "RCUR"), ("OOFF", "OOFF")], compute="_compute_next_sequence_type"
    )
    original_iban = fields.Char(readonly=True, copy=False, help="IBAN before an amendment, sent once.")
    original_reference = fields.Char(readonly=True, copy=False, help="Reference before an amendment, sent once.")
    amendment_pending = fields.Boolean(readonly=True, copy=False)
    subscription_ids = fields.One2many("subscription.subscription", "sepa_mandate_id", string="Subscriptions")
    collection_line_ids = fields.One2many("sepa.collection.line", "mandate_id", string="Collections")
    blocked_reason = fields.Char(readonly=True, copy=False)

    _reference_unique = models.Constraint(
        "UNIQUE(reference, company_id)",
        "A mandate reference must be unique for the creditor.",
    )

    @api.depends("mandate_type", "first_collection_date", "company_id.sepa_rcur_only")
    def _compute_next_sequence_type(self):
        for mandate in self:
            if mandate.mandate_type == "oneoff":
                mandate.next_sequence_type = "OOFF"
            elif mandate.first_collection_date or mandate.company_id.sepa_rcur_only:
                mandate.next_sequence_type = "RCUR"
            else:
                mandate.next_sequence_type = "FRST"

    @api.constrains("reference")
    def _check_reference(self):
        for mandate in self:
            if mandate.reference != "/" and len(mandate.reference) > 35:
                raise ValidationError(
                    self.env._("Mandate reference %(ref)s is longer than 35 characters.", ref=mandate.reference)
                )

    @api.constrains("scheme", "partner_id")
    def _check_b2b_for_businesses(self):
        for mandate in self.filtered(lambda m: m.scheme == "B2B"):
            if not mandate.commercial_partner_id.is_company:
                raise ValidationError(
                    self.env._(
                        "Mandate %(ref)s: the B2B scheme is only for businesses, not for %(partner)s.",
                        ref=mandate.reference,
                        partner=mandate.partner_id.display_name,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("reference", "/") == "/":
                company = self.env["res.company"].browse(vals.get("company_id")) or self.env.company
                vals["reference"] = self.env["ir.sequence"].with_company(company).next_by_code("sepa.mandate") or "/"
        return super().create(vals_list)

    def write(self, vals):
        # a changed IBAN or reference is an amendment, carried in the next collection
        if "partner_bank_id" in vals or "reference" in vals:
            for mandate in self.filtered(lambda m: m.first_collection_date):
                amendment = {"amendment_pending": True}
                if "partner_bank_id" in vals and vals["partner_bank_id"] != mandate.partner_bank_id.id:
                    amendment["original_iban"] = mandate.original_iban or mandate.partner_bank_id.sanitized_acc_number
                if "reference" in vals and vals["reference"] != mandate.reference:
                    amendment["original_reference"] = mandate.original_reference or mandate.reference
                super(SepaMandate, mandate).write(amendment)
        result = super().write(vals)
        # changed back to what the bank already knows: nothing to amend
        for mandate in self.filtered("amendment_pending"):
            same_iban = mandate.original_iban in (False, mandate.partner_bank_id.sanitized_acc_number)
            same_reference = mandate.original_reference in (False, mandate.reference)
            if same_iban and same_reference:
                super(SepaMandate, mandate).write(
                    {"amendment_pending": False, "original_iban": False, "original_reference": False}
                )
            elif same_iban or same_reference:
                super(SepaMandate, mandate).write(
                    {"original_iban": False} if same_iban else {"original_reference": False}
                )
        return result

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------
    def action_activate(self):
        for mandate in self:
            if not mandate.company_id.sepa_creditor_identifier:
                raise UserError(
                    self.env._(
                        "Set the SEPA creditor identifier of %(company)s first.", company=mandate.company_id.name
                    )
                )
            mandate._change_state("active")
        return True

    def action_revoke(self):
        for mandate in self:
            mandate._change_state("revoked", reason=self.env._("Revoked by %(user)s.", user=self.env.user.name))
        return True

    def action_close(self):
        for mandate in self:
            mandate._change_state("closed")
        return True

    def action_print(self):
        return self.env.ref("subscription_billing.action_report_sepa_mandate").report_action(self)

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    def _change_state(self, new_state, reason=None):
        """The only way a mandate changes state; logged in its chatter."""
        labels = dict(self._fields["state"]._description_selection(self.env))
        for mandate in self:
            if new_state not in MANDATE_TRANSITIONS[mandate.state]:
                raise UserError(
                    self.env._(
                        "Mandate %(ref)s cannot go from %(old)s to %(new)s.",
                        ref=mandate.reference,
                        old=labels[mandate.state],
                        new=labels[new_state],
                    )
                )
            mandate.state = new_state
            if reason:
                mandate.blocked_reason = reason if new_state == "revoked" else mandate.blocked_reason
                mandate.message_post(body=Markup("%s") % reason)

    def _is_usable(self, date_ref):
        """Whether a collection due on ``date_ref`` may use this mandate."""
        self.ensure_one()
        return self.state == "active" and not (self.mandate_type == "oneoff" and self.first_collection_date)

    def _mark_collected(self, due_date):
        """Record a booked collection: FRST becomes RCUR, the amendment has been sent."""
        for mandate in self:
            vals = {"last_collection_date": max(filter(None, [mandate.last_collection_date, due_date]))}
            if not mandate.first_collection_date:
                vals["first_collection_date"] = due_date
            if mandate.amendment_pending:
                vals.update(amendment_pending=False, original_iban=False, original_reference=False)
            mandate.write(vals)
            if mandate.mandate_type == "oneoff":
                mandate._change_state("closed")

    @api.model
    def _cron_expire_mandates(self, date_ref=None):
        """Expire active mandates unused for 36 months (counted from the last collection's due date)."""
        date_ref = date_ref or fields.Date.context_today(self)
        limit = date_ref - relativedelta(months=MANDATE_EXPIRY_MONTHS)
        stale = self.search(
            [
                ("state", "=", "active"),
                "|",
                ("last_collection_date", "<", limit),
                "&",
                ("last_collection_date", "=", False),
                ("signature_date", "<", limit),
            ]
        )
        for mandate in stale:
            last = mandate.last_collection_date or mandate.signature_date
            mandate._change_state(
                "expired",
                reason=self.env._(
                    "Expired: no collection since %(date)s (36 months).",
                    date=format_date(self.env, last),
                ),
            )
        return stale
