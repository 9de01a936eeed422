import logging
from datetime import timedelta

from stdnum.eu import vat as eu_vat

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import email_normalize

_logger = logging.getLogger(__name__)

DEFAULT_SIGNUPS_PER_IP = 5
DEFAULT_VIES_TIMEOUT = 5  # seconds; the signup request waits this long at most for VIES
#: days a card signup may wait for its payment method before its draft subscription is deleted
DEFAULT_CARD_SIGNUP_ABANDON_DAYS = 3

#: VAT prefixes that are not the ISO code of the address's country
VAT_PREFIX_COUNTRY = {"EL": "GR", "XI": "GB"}


class SubscriptionSignup(models.Model):
    """One signup through the hosted signup page: who, from where, which subscription it created.

    Its one-time form key is unique in the database, so a double-clicked or re-sent form creates
    one customer and one subscription; its IP address and time feed the rate limit.
    """

    _name = "subscription.signup"
    _description = "Hosted Signup"
    _order = "id desc"
    _check_company_auto = True

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    submission_key = fields.Char(required=True, readonly=True, copy=False)
    email = fields.Char(required=True, readonly=True)
    ip_address = fields.Char(string="IP Address", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True, index=True)
    contact_id = fields.Many2one("res.partner", readonly=True, help="Who gets the portal account.")
    subscription_id = fields.Many2one("subscription.subscription", readonly=True, index=True, check_company=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    terms_accepted = fields.Boolean(readonly=True)
    withdrawal_acknowledged = fields.Boolean(readonly=True)
    vat_vies_state = fields.Selection(
        [("valid", "Valid in VIES"), ("unreachable", "VIES unreachable: format checked only")],
        string="VIES Check",
        readonly=True,
        help="Set when the company verifies VAT numbers with VIES (base_vat's setting).",
    )
    payment_choice = fields.Selection(
        [("sepa", "SEPA direct debit"), ("trial", "Trial without payment method"), ("card", "Payment provider")],
        readonly=True,
    )
    awaiting_payment_method = fields.Boolean(
        readonly=True,
        copy=False,
        help="The customer chose to pay through a payment provider: the subscription stays a draft until the "
        "provider confirms the payment method entered in the payment form, then it starts.",
    )
    abandoned_date = fields.Datetime(
        readonly=True,
        copy=False,
        help="The customer left the payment form of this card signup without a confirmed payment method: its "
        "draft subscription was deleted on this date (the customer record stays).",
    )
    sdk_origin = fields.Char(
        string="SDK Origin",
        readonly=True,
        copy=False,
        help="Allowed origin of the page that opened this signup with the SDK's checkout(): the signup's result is "
        "posted there once the subscription has started (also after the payment form of a card signup).",
    )

    # ------------------------------------------------------------------
    # Constraints
    # ------------------------------------------------------------------
    _submission_key_unique = models.Constraint("UNIQUE(submission_key)", "This signup form was already submitted.")

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    @api.model
    def _get_plans(self, family):
        return self.env["subscription.plan"].search(
            [("family_id", "=", family.id), ("company_id", "in", (False, self.env.company.id))], order="rank, id"
        )

    @api.model
    def _get_plan_price(self, plan, currency):
        """The recurring price of ``plan`` in ``currency`` (sum of its recurring lines), or ``None``."""
        total = 0.0
        for line in plan.line_ids.filtered(lambda pl: pl.line_type == "recurring" and not pl.optional):
            price = line._get_price_unit(currency)
            if price is None:
                return None
            total += price * line.quantity
        return total

    @api.model
    def _validate_form(self, plan, form):
        """``(values, errors)`` of a signup form for ``plan``."""
        errors = {}
        kind = form.get("customer_type") if form.get("customer_type") in ("company", "person") else "person"
        name = (form.get("name") or "").strip()[:200]
        company_name = (form.get("company_name") or "").strip()[:200]
        email = email_normalize((form.get("email") or "").strip())
        country = (
            self.env["res.country"].browse(int(form["country_id"])).exists()
            if (form.get("country_id") or "").isdigit()
            else self.env["res.country"]
        )
        vat = (form.get("vat") or "").replace(" ", "").upper()
        payment = form.get("payment") if form.get("payment") in ("sepa", "trial", "card") else "sepa"
        if not name:
            errors["name"] = self.env._("Please enter your name.")
        if kind == "company" and not company_name:
            errors["company_name"] = self.env._("Please enter the company name.")
        if not email:
            errors["email"] = self.env._("Please enter a valid e-mail address.")
        for field in ("street", "zip", "city"):
            if not (form.get(field) or "").strip():
                errors[field] = self.env._("Please enter your full address.")
        if not country:
            errors["country_id"] = self.env._("Please choose your country.")
        if vat and not eu_vat.is_valid(vat):
            errors["vat"] = self.env._("The VAT number %(vat)s is not valid.", vat=vat)
        elif vat and country and VAT_PREFIX_COUNTRY.get(vat[:2], vat[:2]) != country.code:
            errors["vat"] = self.env._(
                "The VAT number %(vat)s is not from %(country)s, the country of your address.",
                vat=vat,
                country=country.name,
            )
        if payment == "trial" and (not plan.trial_period_count or plan.requires_payment_method):
            errors["payment"] = self.env._("Plan %(plan)s needs a payment method.", plan=plan.name)
        if payment == "card" and not self._card_payment_available():
            errors["payment"] = self.env._(
                "Payment by card or another provider's method is not available: please choose SEPA direct debit."
            )
        if not form.get("accept_terms"):
            errors["accept_terms"] = self.env._("Please accept the terms and conditions.")
        if kind == "person" and not form.get("accept_withdrawal"):
            errors["accept_withdrawal"] = self.env._("Please confirm that you have read the right of withdrawal.")
        values = {
            "kind": kind,
            "name": name,
            "company_name": company_name,
            "email": email,
            "street": (form.get("street") or "").strip()[:200],
            "zip": (form.get("zip") or "").strip()[:20],
            "city": (form.get("city") or "").strip()[:100],
            "country": country,
            "vat": vat,
            "payment": payment,
            "iban": form.get("iban") or "",
            "account_holder": (form.get("account_holder") or name).strip(),
            "consent": bool(form.get("sepa_consent")),
            "submission_key": (form.get("submission_key") or "")[:64],
        }
        return values, errors

    @api.model
    def _card_payment_available(self, currency=None):
        """Whether a provider of the company can save a payment method (tokenization) for a signup
        (in ``currency``, the subscription's, where known)."""
        return bool(
            self.env["payment.provider"]
            .sudo()
            ._get_compatible_providers(
                self.env.company.id,
                self.env.company.partner_id.id,
                0.0,
                currency_id=currency.id if currency else None,
                force_tokenization=True,
                is_validation=True,
            )
        )

    @api.model
    def _check_vat_vies(self, vat):
        """VIES check of a (format-valid) EU VAT number, only where the company enabled base_vat's
        "Verify VAT Numbers": ``None`` (not enabled), ``"valid"``, ``"invalid"`` or ``"unreachable"``.

        VIES down or slow (timeout ``subscription_billing.signup_vies_timeout``) does not block the signup:
        the number was checked for format and country; ``unreachable`` is recorded and noted for the team.
        """
        company = self.env.company
        if not vat or "vat_check_vies" not in company._fields or not company.vat_check_vies:
            return None
        timeout = float(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("subscription_billing.signup_vies_timeout", DEFAULT_VIES_TIMEOUT)
        )
        try:
            result = eu_vat.check_vies(vat, timeout=timeout)
        except Exception as error:  # noqa: BLE001 - network, SOAP fault or a missing SOAP library: all "unreachable"
            _logger.info("VIES check of %s failed (%s): format check only.", vat, error)
            return "unreachable"
        return "valid" if result["valid"] else "invalid"

    @api.model
    def _check_rate_limit(self, ip_address, now):
        limit = int(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("subscription_billing.signup_limit_per_ip", DEFAULT_SIGNUPS_PER_IP)
        )
        since = now - timedelta(hours=1)
        return not ip_address or (
            self.sudo().search_count([("ip_address", "=", ip_address), ("create_date", ">", since)], limit=limit)
            < limit
        )

    @api.model
    def _prepare_partner_values(self, values):
        address = {
            "street": values["street"],
            "zip": values["zip"],
            "city": values["city"],
            "country_id": values["country"].id,
            "lang": self.env.lang,
        }
        if values["kind"] == "company":
            return {"name": values["company_name"], "is_company": True, "vat": values["vat"] or False, **address}
        return {"name": values["name"], "email": values["email"], **address}

    @api.model
    def _get_summary(self, plan, currency, values):
        """Order summary for the customer's country: ``[(name, untaxed, total)]`` and the totals."""
        partner = self.env["res.partner"].new(self._prepare_partner_values(values))
        fpos = self.env["account.fiscal.position"]._get_fiscal_position(partner)
        rows, untaxed, total = [], 0.0, 0.0
        for line in plan.line_ids.filtered(lambda pl: pl.line_type == "recurring" and not pl.optional):
            price = line._get_price_unit(currency) or 0.0
            taxes = fpos.map_tax(line.product_id.taxes_id._filter_taxes_by_company(self.env.company))
            computed = taxes.compute_all(price, currency, line.quantity, line.product_id, partner)
            rows.append((line.name or line.product_id.name, computed["total_excluded"], computed["total_included"]))
            untaxed += computed["total_excluded"]
            total += computed["total_included"]
        return {"rows": rows, "untaxed": untaxed, "total": total, "fiscal_position": fpos}

    @api.model
    def _signup(self, plan, currency, form, ip_address=None, now=None):
        """Create the customer, the subscription (started today), its payment method and a portal account.

        Entry point of the hosted signup. The form is validated again here.

        :return: the ``subscription.signup`` record (the existing one for a form submitted twice)
        """
        now = now or fields.Datetime.now()
        values, errors = self._validate_form(plan, form)
        if errors:
            raise ValidationError("\n".join(errors.values()))
        if not values["submission_key"]:
            raise UserError(self.env._("The signup form has expired: please load the page again."))
        if values["payment"] == "card" and not self._card_payment_available(currency):
            raise ValidationError(
                self.env._(
                    "Payment by card or another provider's method is not available: please choose SEPA direct debit."
                )
            )
        existing = self.sudo().search([("submission_key", "=", values["submission_key"])], limit=1)
        if existing:
            return existing
        company = self.env.company
        date_ref = fields.Date.context_today(self.with_context(tz=company.partner_id.tz or "UTC"), timestamp=now)
        vies = self._check_vat_vies(values["vat"]) if values["kind"] == "company" else None
        if vies == "invalid":
            raise ValidationError(
                self.env._("The VAT number %(vat)s is not valid according to VIES.", vat=values["vat"])
            )
        Partner = self.env["res.partner"].sudo()
        partner_values = self._prepare_partner_values(values)
        if vies and "vies_valid" in Partner._fields:
            # checked just now: base_vat need not ask VIES again (a reverse charge needs "valid")
            partner_values["vies_valid"] = vies == "valid"
        partner = Partner.create(partner_values)
        contact = partner
        if values["kind"] == "company":
            contact = Partner.create(
                {"name": values["name"], "email": values["email"], "parent_id": partner.id, "type": "contact"}
            )
            partner.email = values["email"]
        signup = self.sudo().create(
            {
                "submission_key": values["submission_key"],
                "email": values["email"],
                "ip_address": (ip_address or "")[:64] or False,
                "partner_id": partner.id,
                "contact_id": contact.id,
                "company_id": company.id,
                "terms_accepted": True,
                "withdrawal_acknowledged": values["kind"] == "person",
                "payment_choice": values["payment"],
                "vat_vies_state": vies if vies in ("valid", "unreachable") else False,
            }
        )
        subscription = (
            self.env["subscription.subscription"]
            .sudo()
            .create(
                {
                    "partner_id": partner.id,
                    "plan_id": plan.id,
                    "currency_id": currency.id,
                    "start_date": date_ref,
                    "company_id": company.id,
                }
            )
        )
        signup.subscription_id = subscription
        if vies == "unreachable":
            subscription.message_post(
                body=self.env._(
                    "VIES could not be reached: VAT number %(vat)s was checked for format and country only. "
                    "Verify it before relying on a reverse charge.",
                    vat=values["vat"],
                ),
                subtype_xmlid="mail.mt_note",
            )
        if values["payment"] == "card":
            # the subscription starts when the provider confirms the payment method (_complete_with_token);
            # until then it is a draft: nothing is billed, no welcome e-mail, no portal account
            signup.awaiting_payment_method = True
            subscription.message_post(
                body=self.env._("Signed up online (hosted signup page); waiting for the payment method.")
            )
            return signup
        subscription._start(date_ref=date_ref)
        if values["payment"] == "sepa":
            # a refused mandate raises: the caller's savepoint takes back the customer and the subscription too
            subscription._portal_sign_sepa_mandate(
                values["iban"], values["account_holder"], values["consent"], ip_address, now
            )
        subscription.message_post(body=self.env._("Signed up online (hosted signup page)."))
        signup._welcome()
        return signup

    def _complete_with_token(self, token, date_ref):
        """The payment method of a "card" signup is confirmed: use ``token`` and start the subscription.

        A signup completed days after the form starts on ``date_ref``, not on the form's day.
        """
        self.ensure_one()
        subscription = self.subscription_id
        if not self.awaiting_payment_method or subscription.state != "draft":
            raise UserError(
                self.env._("Subscription %(sub)s is not waiting for its payment method.", sub=subscription.display_name)
            )
        if subscription.start_date < date_ref:
            subscription.start_date = date_ref
        subscription.write({"payment_method": "token", "payment_token_id": token.id, "sepa_mandate_id": False})
        subscription._start(date_ref=date_ref)
        self.awaiting_payment_method = False
        subscription.message_post(
            body=self.env._(
                "Signed up online (hosted signup page), paying by %(token)s (by the customer, in the payment form).",
                token=token.display_name,
            )
        )
        self._welcome()

    def _welcome(self):
        """Portal account and welcome e-mail for the customer of a started signup."""
        self.ensure_one()
        self._grant_portal_access(self.contact_id or self.partner_id)
        template = self.env.ref("subscription_billing.mail_template_subscription_welcome")
        template.sudo().send_mail(self.subscription_id.id, force_send=True, email_values={"email_to": self.email})

    @api.model
    def _grant_portal_access(self, contact):
        """A portal account for ``contact`` (Odoo's portal wizard sends the invitation with the password link)."""
        if contact.user_ids:
            return
        wizard = self.env["portal.wizard"].sudo().create({"partner_ids": [fields.Command.link(contact.id)]})
        wizard.user_ids.action_grant_access()

    # ------------------------------------------------------------------
    # Crons
    # ------------------------------------------------------------------
    @api.model
    def _cron_discard_abandoned_card_signups(self, now=None):
        """Delete the draft subscriptions of card signups whose payment method never arrived.

        A card signup keeps its subscription a draft until the payment form's validation is confirmed; a
        customer who leaves the form would leave that draft behind for good. After
        ``subscription_billing.card_signup_abandon_days`` days (default 3) the draft is deleted and the signup
        marked abandoned; a subscription that started meanwhile (or a signup no longer waiting) is left alone.
        """
        now = now or fields.Datetime.now()
        days = int(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("subscription_billing.card_signup_abandon_days", DEFAULT_CARD_SIGNUP_ABANDON_DAYS)
        )
        signups = self.sudo().search(
            [
                ("awaiting_payment_method", "=", True),
                ("create_date", "<", now - timedelta(days=max(days, 1))),
                ("subscription_id.state", "=", "draft"),
            ]
        )
        self.env["ir.cron"]._commit_progress(remaining=len(signups))
        for signup in signups:
            if not signup.subscription_id.try_lock_for_update(allow_referencing=True):
                continue  # the payment form's confirmation is starting it right now
            name = signup.subscription_id.name
            signup.subscription_id.unlink()
            signup.write({"awaiting_payment_method": False, "abandoned_date": now})
            _logger.info(
                "card signup %s (%s): no payment method after %s days, draft %s deleted",
                signup.id,
                signup.email,
                days,
                name,
            )
            if not self.env["ir.cron"]._commit_progress(1):
                break
