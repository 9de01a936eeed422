from markupsafe import Markup

from odoo import api, models


class AccountMoveSend(models.AbstractModel):
    """The invoice e-mail carries the SEPA pre-notification of invoices paid by direct debit."""

    _inherit = "account.move.send"

    @api.model
    def _get_default_mail_body(self, move, mail_template, mail_lang):
        body = super()._get_default_mail_body(move, mail_template, mail_lang)
        text = move.with_context(lang=mail_lang)._get_sepa_prenotification_text()
        if text:
            body = (body or Markup()) + Markup("<p class='o_sepa_prenotification'>%s</p>") % text
        return body
