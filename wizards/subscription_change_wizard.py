from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import format_amount, format_date


class SubscriptionChangeWizard(models.TransientModel):
    """Change a subscription's plan, quantities or add-ons, with a preview of the prorated amounts."""

    _name = "subscription.change.wizard"
    _description = "Change Subscription"

    subscription_id = fields.Many2one("subscription.subscription", required=True)
    currency_id = fields.Many2one(related="subscription_id.currency_id")
    current_plan_id = fields.Many2one(related="subscription_id.plan_id", string="Current Plan")
    new_plan_id = fields.Many2one(
        "subscription.plan",
        required=True,
        domain="['|', ('id', '=', current_plan_id), '&', ('family_id', '!=', False), "
        "('family_id', '=', current_family_id)]",
    )
    current_family_id = fields.Many2one(related="subscription_id.plan_id.family_id")
    timing = fields.Selection(
        [("immediate", "Immediately (prorated)"), ("period_end", "At the end of the current period")],
        required=True,
        default="immediate",
    )
    date_ref = fields.Date(string="Effective Date", required=True, default=fields.Date.context_today)
    line_ids = fields.One2many(
        "subscription.change.wizard.line", "wizard_id", compute="_compute_line_ids", store=True, readonly=False
    )
    preview_html = fields.Html(compute="_compute_preview", sanitize=False)
    preview_error = fields.Char(compute="_compute_preview")

    @api.depends("new_plan_id")
    def _compute_line_ids(self):
        for wizard in self:
            current = {
                line.plan_line_id.product_id: line.quantity for line in wizard.subscription_id._get_changeable_lines()
            }
            commands = [fields.Command.clear()]
            for plan_line in wizard.new_plan_id.line_ids.filtered(lambda pl: pl.line_type != "setup"):
                default = 0.0 if plan_line.optional else plan_line.quantity
                commands.append(
                    fields.Command.create(
                        {
                            "plan_line_id": plan_line.id,
                            "quantity": current.get(plan_line.product_id, default),
                        }
                    )
                )
            wizard.line_ids = commands

    def _get_target(self):
        self.ensure_one()
        return {
            "plan_id": self.new_plan_id.id,
            "lines": {str(line.plan_line_id.id): line.quantity for line in self.line_ids if line.quantity},
        }

    @api.depends("new_plan_id", "timing", "date_ref", "line_ids.quantity")
    def _compute_preview(self):
        for wizard in self:
            wizard.preview_html = False
            wizard.preview_error = False
            if not wizard.subscription_id or not wizard.new_plan_id:
                continue
            try:
                wizard.preview_html = wizard._render_preview()
            except (UserError, ValidationError) as error:
                wizard.preview_error = str(error.args[0])

    def _render_preview(self):
        """The exact amounts (taxes included) the change will bill, without writing anything."""
        sub = self.subscription_id
        values = self.env["subscription.change"]._prepare_change(sub, self._get_target(), self.timing, self.date_ref)
        change = self.env["subscription.change"].new(values)
        charges = change._prepare_proration_charges()
        # the proration is discounted by the running percentage coupons, as on the invoice
        discount = float(sub._get_proration_discount_percent())
        rows = []
        total_untaxed = total = 0.0
        for charge in charges:
            product = self.env["product.product"].browse(charge["product_id"])
            taxes = sub.fiscal_position_id.map_tax(product.taxes_id._filter_taxes_by_company(sub.company_id))
            computed = taxes.compute_all(
                charge["price_unit"] * (1 - discount / 100),
                sub.currency_id,
                charge["quantity"],
                product,
                sub.partner_invoice_id,
            )
            total_untaxed += computed["total_excluded"]
            total += computed["total_included"]
            rows.append(
                Markup("<tr><td>%s</td><td class='text-end'>%s</td><td class='text-end'>%s</td></tr>")
                % (
                    charge["name"],
                    format_amount(self.env, computed["total_excluded"], sub.currency_id),
                    format_amount(self.env, computed["total_included"], sub.currency_id),
                )
            )
        head = Markup("<p>%s</p>") % self.env._(
            "%(summary)s, effective %(date)s. MRR %(before)s → %(after)s.",
            summary=values["summary"],
            date=format_date(self.env, values["effective_date"]),
            before=format_amount(self.env, values["mrr_before"], sub.currency_id),
            after=format_amount(self.env, values["mrr_after"], sub.currency_id),
        )
        if not rows:
            return head + Markup("<p>%s</p>") % self.env._(
                "Nothing to prorate: the new lines are billed from the next period."
            )
        if discount:
            head += Markup("<p>%s</p>") % self.env._(
                "The proration is reduced by the running discount of %(percent)s %%.",
                percent=f"{discount:g}",
            )
        where = (
            self.env._("billed immediately")
            if self.new_plan_id.change_invoicing == "immediate"
            else self.env._("added to the next invoice")
        )
        table = (
            Markup(
                "<table class='table table-sm'><thead><tr><th>%s</th><th class='text-end'>%s</th>"
                "<th class='text-end'>%s</th></tr></thead><tbody>"
            )
            % (self.env._("Proration"), self.env._("Untaxed"), self.env._("Total"))
            + Markup("").join(rows)
            + Markup("<tr class='fw-bold'><td>%s</td><td class='text-end'>%s</td><td class='text-end'>%s</td></tr>")
            % (
                escape(self.env._("Total (%(where)s)", where=where)),
                format_amount(self.env, total_untaxed, sub.currency_id),
                format_amount(self.env, total, sub.currency_id),
            )
            + Markup("</tbody></table>")
        )
        return head + table

    def action_confirm(self):
        self.ensure_one()
        self.subscription_id._change(self._get_target(), self.timing, self.date_ref)
        return {"type": "ir.actions.act_window_close"}


class SubscriptionChangeWizardLine(models.TransientModel):
    _name = "subscription.change.wizard.line"
    _description = "Change Subscription: line"

    wizard_id = fields.Many2one("subscription.change.wizard", required=True, ondelete="cascade")
    plan_line_id = fields.Many2one("subscription.plan.line", required=True)
    product_id = fields.Many2one(related="plan_line_id.product_id")
    optional = fields.Boolean(related="plan_line_id.optional", string="Add-on")
    line_type = fields.Selection(related="plan_line_id.line_type")
    quantity = fields.Float(digits="Product Unit")
