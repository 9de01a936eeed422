import logging

from odoo import api, fields, models

_logger = logging.getLogger(__name__)


class SubscriptionDunningLetter(models.Model):
    """One dunning communication to one customer on one day, at the highest level reached.

    Lists the customer's overdue items; carries the fees and interest it claims
    and how they are invoiced, its PDF and its e-mail. One letter per customer,
    day and company (a unique index): a rerun on the same day cannot send twice.
    """

    _name = "subscription.dunning.letter"
    _description = "Dunning Letter"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "date desc, id desc"
    _check_company_auto = True

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    name = fields.Char(compute="_compute_name")
    partner_id = fields.Many2one("res.partner", string="Customer", required=True, index=True, readonly=True)
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    date = fields.Date(required=True, readonly=True)
    level_id = fields.Many2one("subscription.dunning.level", required=True, readonly=True)
    entry_ids = fields.One2many("subscription.dunning.entry", "letter_id", string="Items Reaching a Level")
    invoice_ids = fields.Many2many(
        "account.move", string="Overdue Items", readonly=True, help="Every overdue item the letter lists."
    )
    amount_overdue = fields.Monetary(string="Overdue", currency_field="currency_id", readonly=True)
    fee_amount = fields.Monetary(string="Dunning Fee", currency_field="currency_id", readonly=True)
    flat_fee_amount = fields.Monetary(string="Flat Fees", currency_field="currency_id", readonly=True)
    interest_amount = fields.Monetary(string="Default Interest", currency_field="currency_id", readonly=True)
    amount_total = fields.Monetary(string="Total Due", currency_field="currency_id", readonly=True)
    fee_invoice_id = fields.Many2one("account.move", readonly=True)
    fee_charge_ids = fields.Many2many("subscription.charge", string="Fee Charges", readonly=True)
    state = fields.Selection(
        [("to_send", "To Send"), ("sent", "Sent")], default="to_send", required=True, readonly=True, index=True
    )
    attachment_id = fields.Many2one("ir.attachment", string="Letter (PDF)", readonly=True)
    mail_id = fields.Many2one("mail.mail", string="E-mail", readonly=True)

    # ------------------------------------------------------------------
    # Constraints and indexes
    # ------------------------------------------------------------------
    _partner_date_unique = models.UniqueIndex("(partner_id, date, company_id)")

    @api.depends("partner_id", "date", "level_id")
    def _compute_name(self):
        for letter in self:
            letter.name = f"{letter.level_id.name or ''} {letter.partner_id.name or ''} {letter.date or ''}".strip()

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------
    def action_print(self):
        return self.env.ref("subscription_billing.action_report_dunning_letter").report_action(self)

    def action_send(self):
        self._send()

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    def _get_item_level(self, invoice):
        """The highest level ``invoice`` reached up to this letter."""
        entries = invoice.sudo().dunning_entry_ids.filtered(lambda e: e.date <= self.date)
        return entries.sorted(lambda e: e.level_id.days_after_due)[-1:].level_id

    def _send(self):
        """Render the PDF, attach it and queue the e-mail, once per letter.

        Letters still to send are claimed with ``FOR UPDATE SKIP LOCKED``: two
        workers never send the same letter; ``state`` turns to sent in the same
        transaction as the e-mail is queued.
        """
        # sending is the run's bookkeeping: whoever may read the letter may send it
        letters = self.sudo().filtered(lambda letter: letter.state == "to_send").try_lock_for_update()
        letters.invalidate_recordset(["state"])
        report = self.env.ref("subscription_billing.action_report_dunning_letter")
        for letter in letters.filtered(lambda letter: letter.state == "to_send"):
            lang = letter.partner_id.lang or self.env.lang
            pdf, _format = self.env["ir.actions.report"].with_context(lang=lang)._render_qweb_pdf(report, letter.ids)
            attachment = (
                self.env["ir.attachment"]
                .sudo()
                .create(
                    {
                        "name": self.env._("Dunning letter %(date)s.pdf", date=letter.date),
                        "raw": pdf,
                        "res_model": letter._name,
                        "res_id": letter.id,
                        "mimetype": "application/pdf",
                    }
                )
            )
            vals = {"state": "sent", "attachment_id": attachment.id}
            template = letter.level_id.mail_template_id
            if template and letter.partner_id.email:
                mail_id = template.with_context(lang=lang).send_mail(
                    letter.id, email_values={"attachment_ids": [fields.Command.link(attachment.id)]}
                )
                vals["mail_id"] = mail_id
            letter.write(vals)
        return letters
