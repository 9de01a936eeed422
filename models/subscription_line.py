from datetime import datetime, time, timedelta
from decimal import Decimal

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import format_date

from ..billing_core import invoicing, pricing, usage
from . import bounds_checks

LINE_TYPES = [
    ("recurring", "Recurring"),
    ("usage", "Metered usage (in arrears)"),
    ("setup", "Setup fee (first invoice)"),
]
#: line fields whose change moves the subscription's MRR
MRR_FIELDS = frozenset(
    (
        "quantity",
        "price_unit",
        "discount",
        "date_end",
        "active",
        "line_type",
        "price_currency_id",
        "pricing_model",
        "included_quantity",
    )
)
PRICING_MODELS = [
    ("per_unit", "Per unit (quantity × unit price)"),
    ("graduated", "Tiered, graduated"),
    ("volume", "Tiered, volume"),
]


class SubscriptionLine(models.Model):
    """One product billed every period of a subscription."""

    _name = "subscription.line"
    _description = "Subscription Line"
    _order = "subscription_id, sequence, id"
    _inherit = ["subscription.input.guard.mixin"]
    _check_company_auto = True

    subscription_id = fields.Many2one("subscription.subscription", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="subscription_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="subscription_id.currency_id")
    sequence = fields.Integer(default=10)
    product_id = fields.Many2one(
        "product.product",
        required=True,
        check_company=True,
        domain="[('subscription_ok', '=', True)]",
    )
    name = fields.Text(
        string="Description", required=True, compute="_compute_name", store=True, readonly=False, precompute=True
    )
    quantity = fields.Float(default=1.0, required=True, digits="Product Unit")
    price_currency_id = fields.Many2one(
        "res.currency",
        string="Priced In",
        compute="_compute_price_currency_id",
        store=True,
        readonly=False,
        precompute=True,
        help="Currency of the unit price and the tiers: the subscription's, or the plan's when the plan "
        "converts prices by exchange rate (converted at the rate of each invoice date).",
    )
    price_unit = fields.Monetary(
        string="Unit Price",
        required=True,
        currency_field="price_currency_id",
        compute="_compute_price_unit",
        store=True,
        readonly=False,
        precompute=True,
    )
    discount = fields.Float(string="Discount (%)", digits="Discount")
    tax_ids = fields.Many2many(
        "account.tax",
        string="Taxes",
        compute="_compute_tax_ids",
        store=True,
        readonly=False,
        precompute=True,
        check_company=True,
        domain="[('type_tax_use', '=', 'sale')]",
    )
    price_subtotal = fields.Monetary(compute="_compute_price_subtotal", string="Subtotal", currency_field="currency_id")
    active = fields.Boolean(default=True, help="Archived lines were replaced by a plan or quantity change.")
    plan_line_id = fields.Many2one("subscription.plan.line", ondelete="set null", index="btree_not_null")
    line_type = fields.Selection(LINE_TYPES, required=True, default="recurring")
    is_addon = fields.Boolean(string="Add-on")
    pricing_model = fields.Selection(PRICING_MODELS, required=True, default="per_unit")
    included_quantity = fields.Float(digits="Product Unit", help="Units free of charge before the price applies.")
    tier_ids = fields.One2many("subscription.price.tier", "subscription_line_id", string="Price Tiers", copy=True)
    metric_id = fields.Many2one("subscription.usage.metric", check_company=True, ondelete="restrict")
    date_start = fields.Date(
        string="Billed From", help="First day this line is billed (set by a change); empty: from the start."
    )
    date_end = fields.Date(string="Billed Until", help="Last day this line is billed (set by a change).")
    usage_billed_until = fields.Date(readonly=True, copy=False, help="Usage up to this day has been billed.")

    _quantity_not_negative = models.Constraint(
        "CHECK(quantity >= 0)",
        "The quantity of a subscription line cannot be negative.",
    )
    _discount_range = models.Constraint(
        "CHECK(discount >= 0 AND discount <= 100)",
        "The discount of a subscription line must lie between 0 and 100 %.",
    )

    @api.depends("product_id")
    def _compute_name(self):
        for line in self:
            if line.product_id and not line.name:
                line.name = line.product_id.get_product_multiline_description_sale() or line.product_id.display_name

    @api.depends("product_id", "subscription_id.currency_id")
    def _compute_price_currency_id(self):
        for line in self:
            if line.price_currency_id and line.price_unit:
                # a priced line keeps the currency of its price
                continue
            currency = line.subscription_id.currency_id
            plan_line = line.plan_line_id or line._get_plan_line_of_product()
            line.price_currency_id = (plan_line and plan_line._get_pricing_currency(currency)) or currency

    @api.depends("product_id", "subscription_id.currency_id", "price_currency_id")
    def _compute_price_unit(self):
        for line in self:
            if not line.product_id or line.price_unit:
                continue
            currency = line.price_currency_id or line.currency_id
            plan_line = line._get_plan_line_of_product()
            price = plan_line._get_price_unit(currency) if plan_line else None
            if price is None:
                price = line.product_id.currency_id._convert(
                    line.product_id.lst_price,
                    currency or line.product_id.currency_id,
                    line.company_id or self.env.company,
                    line.subscription_id.start_date or fields.Date.context_today(line),
                )
            line.price_unit = price

    @api.depends("product_id", "subscription_id.fiscal_position_id", "subscription_id.company_id")
    def _compute_tax_ids(self):
        for line in self:
            company = line.subscription_id.company_id or self.env.company
            taxes = line.product_id.taxes_id._filter_taxes_by_company(company)
            line.tax_ids = line.subscription_id.fiscal_position_id.map_tax(taxes) if taxes else False

    @api.depends(
        "quantity",
        "price_unit",
        "discount",
        "currency_id",
        "price_currency_id",
        "pricing_model",
        "included_quantity",
        "tier_ids.unit_price",
        "tier_ids.flat_fee",
        "tier_ids.up_to",
        "line_type",
    )
    def _compute_price_subtotal(self):
        for line in self:
            if line.line_type == "usage":
                line.price_subtotal = 0.0
                continue
            line.price_subtotal = float(line._get_full_period_amount())

    @api.constrains("quantity", "price_unit", "included_quantity", "date_start", "date_end")
    def _check_bounds(self):
        """Finite quantities and prices a float keeps exactly; dates within the plausible horizon."""
        bounds_checks.check_numbers(
            self, ("quantity", "price_unit", "included_quantity"), refuse_negative=("included_quantity",)
        )
        bounds_checks.check_dates(self, ("date_start", "date_end"))

    @api.constrains("quantity")
    def _check_quantity(self):
        for line in self:
            if line.quantity < 0:
                raise ValidationError(
                    self.env._(
                        "Quantity of %(product)s on subscription %(sub)s cannot be negative (%(qty)s).",
                        product=line.product_id.display_name,
                        sub=line.subscription_id.display_name,
                        qty=line.quantity,
                    )
                )

    @api.constrains("price_unit")
    def _check_price_unit(self):
        for line in self:
            if line.price_unit < 0:
                raise ValidationError(
                    self.env._(
                        "Unit price of %(product)s on subscription %(sub)s cannot be negative; "
                        "discounts and credits are separate lines.",
                        product=line.product_id.display_name,
                        sub=line.subscription_id.display_name,
                    )
                )

    def _get_plan_line_of_product(self):
        """The plan line of the subscription's plan selling this line's product (empty if none)."""
        self.ensure_one()
        product = self.product_id
        return self.subscription_id.plan_id.line_ids.filtered(lambda pl: product and pl.product_id == product)[:1]

    def _get_invoice_line_description(self, period):
        """Invoice line text: the line's description and the service period it pays for."""
        self.ensure_one()
        return self.env._(
            "%(description)s\nService period: %(start)s – %(end)s",
            description=self.name,
            start=format_date(self.env, period.start),
            end=format_date(self.env, period.end),
        )

    @api.constrains("line_type", "metric_id", "pricing_model", "tier_ids")
    def _check_pricing_setup(self):
        for line in self:
            if line.line_type == "usage" and not line.metric_id:
                raise ValidationError(self.env._("Metered line %(line)s needs a usage metric.", line=line.display_name))
            if line.pricing_model in ("graduated", "volume") and not line.tier_ids:
                raise ValidationError(
                    self.env._(
                        "Tiered line %(line)s needs price tiers in %(currency)s.",
                        line=line.display_name,
                        currency=(line.price_currency_id or line.currency_id).name,
                    )
                )

    @api.constrains("date_start", "date_end")
    def _check_line_dates(self):
        for line in self:
            if line.date_start and line.date_end and line.date_end < line.date_start - timedelta(days=1):
                raise ValidationError(self.env._("Line %(line)s ends before it starts.", line=line.display_name))

    # ------------------------------------------------------------------
    # CRUD overrides
    # ------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        lines._record_mrr_movement()
        return lines

    def write(self, vals):
        res = super().write(vals)
        if MRR_FIELDS.intersection(vals):
            self._record_mrr_movement()
        return res

    def unlink(self):
        subscriptions = self.subscription_id
        res = super().unlink()
        self.browse()._record_mrr_movement(subscriptions.exists())
        return res

    def _record_mrr_movement(self, subscriptions=None):
        """Lines edited on a running subscription move its MRR from today on (a plan change records its own
        movement on its effective date and defers this one)."""
        if self.env.context.get("mrr_ledger_defer"):
            return
        subscriptions = self.subscription_id if subscriptions is None else subscriptions
        # only a subscription with revenue (active or under notice) moves; its start or resume records the rest
        subscriptions = subscriptions.filtered(lambda sub: sub.state in ("active", "notice"))
        if subscriptions:
            # the database checks the new values (discount range, ...) before the MRR is computed from them
            self.flush_recordset()
            subscriptions._record_mrr_movement(fields.Date.context_today(self), reason="lines")

    # ------------------------------------------------------------------
    # Pricing (the math lives in billing_core.pricing)
    # ------------------------------------------------------------------
    def _get_tiers(self, currency=None):
        """The line's price tiers in ``currency`` (default: its price currency) as :class:`pricing.Tier` rows."""
        self.ensure_one()
        currency = currency or self._get_price_currency()
        return self.tier_ids._as_pricing_tiers(currency)

    def _rate(self, quantity):
        """Rate ``quantity`` with the line's pricing model: a :class:`pricing.Rating` (unrounded)."""
        self.ensure_one()
        included = Decimal(str(self.included_quantity or 0))
        quantity = Decimal(str(quantity))
        if self.pricing_model == "per_unit":
            return pricing.rate_per_unit(quantity, Decimal(str(self.price_unit)), included=included)
        return pricing.rate_tiered(quantity, self._get_tiers(), self.pricing_model, included=included)

    def _get_price_currency(self):
        """Currency of the unit price and tiers (the subscription's unless the plan converts)."""
        self.ensure_one()
        return self.price_currency_id or self.currency_id

    def _rounding_step(self):
        """Rounding step of the price currency (amounts before any conversion)."""
        return Decimal(str(self._get_price_currency().rounding))

    def _is_priced_per_unit(self):
        """Invoiced as quantity × unit price (else as one rated amount)."""
        self.ensure_one()
        return self.pricing_model == "per_unit" and not self.included_quantity

    def _get_price_conversion(self, date_ref):
        """The :class:`billing_core.fx.Conversion` of this line's prices into the subscription
        currency at ``date_ref``; ``None`` when the line is priced in the subscription currency."""
        self.ensure_one()
        return self.subscription_id._get_price_conversion(self._get_price_currency(), date_ref)

    def _get_full_period_amount(self, date_ref=None):
        """Untaxed amount of one full billing period in the subscription currency (after the line's
        own percentage discount); prices in another currency are converted at ``date_ref``'s rate
        (default today) like on an invoice of that date."""
        self.ensure_one()
        if not self.currency_id:
            return Decimal(0)
        conversion = self._get_price_conversion(date_ref or fields.Date.context_today(self))
        if conversion is None:
            amount = self._rate(self.quantity).amount
        elif self._is_priced_per_unit():
            amount = conversion.convert(conversion.round_source(self.price_unit)) * Decimal(str(self.quantity))
        else:
            amount = conversion.convert(conversion.round_source(self._rate(self.quantity).amount))
        if self.discount:
            amount -= pricing.discount_value(amount, percent=Decimal(str(self.discount)))
        return pricing.round_to(amount, Decimal(str(self.currency_id.rounding)))

    def _get_billed_part(self, period):
        """The part of ``period`` this line is billed for (its own start/end dates), or ``None``."""
        self.ensure_one()
        return invoicing.billed_part(period, self.date_start or None, self.date_end or None)

    # ------------------------------------------------------------------
    # Invoice lines
    # ------------------------------------------------------------------
    def _prepare_invoice_line_values(self, period, date_ref=None):
        """Values of the invoice line(s) billing this recurring or setup line for ``period``.

        A partial period (calendar alignment, end date, a mid-period change)
        is prorated by days; tiered lines show the tiers applied. A line priced
        in another currency is converted at the rate of ``date_ref`` (default:
        the invoice date of ``period``).
        """
        self.ensure_one()
        part = self._get_billed_part(period) if self.line_type == "recurring" else period
        if part is None or not self.quantity:
            return []
        step = self._rounding_step()
        rating = self._rate(self.quantity)
        values = self._prepare_base_invoice_line_values(part)
        conversion = self._get_price_conversion(date_ref or self.subscription_id._get_item_invoice_date(period))
        prorate = part.is_partial and self.line_type == "recurring"
        _quantity, amount, as_rated = invoicing.period_line_price(
            quantity=self.quantity,
            price_unit=self.price_unit,
            rating_amount=rating.amount,
            per_unit=self._is_priced_per_unit(),
            part=part,
            prorate=prorate,
            step=step,
        )
        if not as_rated:
            values.update(quantity=self.quantity, price_unit=float(amount), discount=self.discount)
            if conversion:
                self._apply_price_conversion(values, conversion, amount, per_unit=True)
            return [values]
        # the line amount is prorated and rounded once (billing_core.invoicing.period_line_price)
        description = self._describe_rating(rating)
        if prorate:
            description += self.env._(" × %(days)s/%(full)s days", days=part.days, full=part.full_days)
        values.update(
            quantity=1.0,
            price_unit=float(amount),
            discount=self.discount,
            name=values["name"] + "\n" + description,
        )
        if conversion:
            self._apply_price_conversion(values, conversion, amount)
        return [values]

    def _apply_price_conversion(self, values, conversion, source_amount, per_unit=False):
        """Put ``source_amount`` (rounded, in the price currency) into ``values`` converted by
        ``conversion``: the converted price, the rate on the line and in its description."""
        self.ensure_one()
        if per_unit:
            text = self.env._(
                "Unit price converted from %(amount)s %(currency)s at %(rate)s (%(date)s)",
                amount=source_amount,
                currency=conversion.source,
                rate=conversion.rate_text,
                date=format_date(self.env, conversion.rate_date),
            )
        else:
            text = self.env._(
                "Converted from %(amount)s %(currency)s at %(rate)s (%(date)s)",
                amount=source_amount,
                currency=conversion.source,
                rate=conversion.rate_text,
                date=format_date(self.env, conversion.rate_date),
            )
        values.update(
            price_unit=float(conversion.convert(source_amount)),
            name=values["name"] + "\n" + text,
            subscription_exchange_rate=float(conversion.rate),
            subscription_rate_currency_id=self._get_price_currency().id,
            subscription_rate_date=conversion.rate_date,
        )
        return values

    def _prepare_usage_invoice_line_values(self, usage_period, records, date_ref=None):
        """Values of the invoice line rating ``records`` (this line's usage in ``usage_period``).

        :param date_ref: invoice date, whose rate converts a line priced in another currency
            (default: the invoice date of ``usage_period``)
        """
        self.ensure_one()
        events = [
            usage.UsageEvent(quantity=Decimal(str(rec.quantity)), timestamp=rec.timestamp, value=rec.value or None)
            for rec in records
        ]
        quantity = usage.aggregate(events, self.metric_id.aggregation)
        rating = self._rate(quantity)
        values = self._prepare_base_invoice_line_values(usage_period)
        amount = pricing.round_to(rating.amount, self._rounding_step())
        values.update(
            quantity=1.0,
            price_unit=float(amount),
            discount=self.discount,
            name=self.env._(
                "%(description)s\nUsage %(start)s – %(end)s: %(quantity)s %(unit)s",
                description=self.name,
                start=format_date(self.env, usage_period.start),
                end=format_date(self.env, usage_period.end),
                quantity=f"{quantity.normalize():f}",
                unit=self.metric_id.uom_id.name or self.metric_id.name,
            )
            + "\n"
            + self._describe_rating(rating),
        )
        conversion = self._get_price_conversion(date_ref or self.subscription_id._get_item_invoice_date(usage_period))
        if conversion:
            self._apply_price_conversion(values, conversion, amount)
        return values

    def _prepare_base_invoice_line_values(self, part):
        return {
            "product_id": self.product_id.id,
            "name": self._get_invoice_line_description(part),
            "product_uom_id": self.product_id.uom_id.id,
            "tax_ids": [fields.Command.set(self.tax_ids.ids)],
            "subscription_id": self.subscription_id.id,
            "subscription_line_id": self.id,
            "subscription_period_start": part.start,
            "subscription_period_end": part.end,
        }

    def _describe_rating(self, rating):
        """One line per tier applied, e.g. "10 × 5.00 (units 1–10)"."""
        parts = []
        if rating.included:
            parts.append(self.env._("%(included)s included", included=f"{rating.included.normalize():f}"))
        for charge in rating.charges:
            text = self.env._(
                "%(quantity)s × %(price)s",
                quantity=f"{charge.quantity.normalize():f}",
                price=f"{charge.unit_price:.2f}",
            )
            if charge.flat_fee:
                text += self.env._(" + %(fee)s flat", fee=f"{charge.flat_fee:.2f}")
            parts.append(text)
        return ", ".join(parts)

    def _is_setup_due(self):
        """A setup fee is billed once: when no live invoice line bills it yet."""
        self.ensure_one()
        return not self.env["account.move.line"].search_count(
            [("subscription_line_id", "=", self.id), ("parent_state", "!=", "cancel")], limit=1
        )

    def _get_usage_records(self, usage_period):
        """Unbilled usage records of this line's metric in ``usage_period``."""
        self.ensure_one()
        start = datetime.combine(usage_period.start, time.min)
        end = datetime.combine(usage_period.end + timedelta(days=1), time.min)
        return self.env["subscription.usage.record"].search(
            [
                ("subscription_id", "=", self.subscription_id.id),
                ("metric_id", "=", self.metric_id.id),
                ("timestamp", ">=", start),
                ("timestamp", "<", end),
                ("invoice_line_id", "=", False),
            ]
        )

    def _get_protected_fields(self):
        """Set by the billing run or the model's own actions only."""
        return ("usage_billed_until",)
