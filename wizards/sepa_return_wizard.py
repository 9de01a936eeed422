import base64
import re

from odoo import fields, models
from odoo.exceptions import UserError

from ..billing_core import sepa


class SepaReturnWizard(models.TransientModel):
    """Record a returned debit by hand."""

    _name = "sepa.return.wizard"
    _description = "Record Returned Debit"

    collection_line_id = fields.Many2one(
        "sepa.collection.line", string="Debit", required=True, domain="[('collection_state', '=', 'booked')]"
    )
    reason_id = fields.Many2one("sepa.return.reason", required=True)
    return_date = fields.Date(required=True, default=fields.Date.context_today)

    def action_confirm(self):
        self.ensure_one()
        self.env["sepa.return"]._record_return(self.collection_line_id, self.reason_id, self.return_date)
        return {"type": "ir.actions.act_window_close"}


class SepaStatusImportWizard(models.TransientModel):
    """Import the bank's status report (camt.054 or pain.002) and process its returned debits."""

    _name = "sepa.status.import.wizard"
    _description = "Import Direct Debit Status Report"

    data_file = fields.Binary(string="camt.054 / pain.002 File", required=True)
    filename = fields.Char()
    summary = fields.Text(readonly=True)

    def action_import(self):
        self.ensure_one()
        result = self._import(base64.b64decode(self.data_file))
        self.summary = self.env._(
            "%(new)s returns processed, %(known)s already imported, %(unknown)s not found: %(refs)s",
            new=result["processed"],
            known=result["known"],
            unknown=len(result["unknown"]),
            refs=", ".join(result["unknown"]) or "-",
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    def _import(self, content):
        """Process every returned transaction of the report once; return counts."""
        try:
            returned = sepa.parse_status_report(content)
        except ValueError as error:
            raise UserError(
                self.env._("This file is not a camt.054 or pain.002 status report: %(error)s", error=error)
            ) from error
        Reason = self.env["sepa.return.reason"]
        Line = self.env["sepa.collection.line"]
        result = {"processed": 0, "known": 0, "unknown": []}
        for tx in returned:
            # the same return reported again (a re-imported file) is recognised by id, date and reason
            if tx.booking_date and self.env["sepa.return"].search_count(
                [
                    ("collection_line_id.end_to_end_id", "=", tx.end_to_end_id),
                    ("return_date", "=", tx.booking_date),
                    ("reason_id.code", "=", tx.reason_code),
                ],
                limit=1,
            ):
                result["known"] += 1
                continue
            domain = [
                ("end_to_end_id", "=", tx.end_to_end_id),
                ("collection_state", "=", "booked"),
                ("state", "=", "included"),
            ]
            if tx.original_message_id:
                lines = Line.search(domain + [("collection_id.message_identifier", "=", tx.original_message_id)])
                lines = lines or Line.search(domain)
            else:
                lines = Line.search(domain)
            line = lines.sorted("id")[-1:] if lines else Line
            if not line:
                result["unknown"].append(tx.end_to_end_id)
                continue
            reason = Reason.search([("code", "=", tx.reason_code)], limit=1) or self._create_reason(tx.reason_code)
            _ret, created = self.env["sepa.return"]._record_return(
                line,
                reason,
                tx.booking_date or fields.Date.context_today(self),
                amount=float(tx.amount) if tx.amount else None,
                source="import",
            )
            result["processed" if created else "known"] += 1
        return result

    def _create_reason(self, code):
        """A reason code the bank reported but nobody configured yet, created for the import.

        Users may not configure reasons (administrators do), but the return
        must be recorded: the new reason is created as superuser, with the
        safe default action (dunning), and returned in the user's environment.
        """
        code = (code or "").strip().upper()
        if not re.fullmatch(r"[A-Z0-9]{1,35}", code):
            raise UserError(
                self.env._("The status report contains an invalid return reason code “%(code)s”.", code=code)
            )
        reason = (
            self.env["sepa.return.reason"]
            .sudo()
            .create({"code": code, "name": self.env._("Reason %(code)s", code=code), "action": "dunning"})
        )
        return reason.sudo(False)
