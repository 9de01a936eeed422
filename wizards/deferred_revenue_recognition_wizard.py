from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import date_utils, format_date


class DeferredRevenueRecognitionWizard(models.TransientModel):
    """Close a month: recognise deferred revenue up to its end, catching up earlier months."""

    _name = "deferred.revenue.recognition.wizard"
    _description = "Recognise Deferred Revenue"

    date = fields.Date(
        string="Up to Month of",
        required=True,
        default=lambda self: date_utils.start_of(fields.Date.context_today(self), "month") - timedelta(days=1),
        help="Every month up to the end of this date's month that is not recognised yet gets its entry.",
    )
    company_ids = fields.Many2many(
        "res.company", string="Companies", required=True, default=lambda self: self.env.company
    )

    @api.constrains("date")
    def _check_date_not_in_a_future_month(self):
        today = fields.Date.context_today(self)
        for wizard in self:
            if wizard.date > date_utils.end_of(today, "month"):
                raise ValidationError(
                    self.env._(
                        "Revenue of %(month)s cannot be recognised yet: choose a month up to the current one.",
                        month=wizard.date.strftime("%m/%Y"),
                    )
                )

    def action_recognise(self):
        self.ensure_one()
        moves = self.env["deferred.revenue.schedule.line"]._recognise_until(self.date, companies=self.company_ids)
        if not moves:
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "type": "info",
                    "message": self.env._(
                        "There is no deferred revenue left to recognise up to %(date)s.",
                        date=format_date(self.env, self.date),
                    ),
                    "next": {"type": "ir.actions.act_window_close"},
                },
            }
        # the journal entries list and form, not the customer invoices' (the action's path of an account.move)
        action = self.env["ir.actions.act_window"]._for_xml_id("account.action_move_journal_line")
        action.update(
            {
                "name": self.env._("Recognition Entries"),
                "domain": [("id", "in", moves.ids)],
                "context": {"default_move_type": "entry", "view_no_maturity": True, "create": False},
            }
        )
        return action
