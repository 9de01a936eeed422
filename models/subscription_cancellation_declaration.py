import logging
import secrets
from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import email_normalize, format_date, format_datetime
from odoo.tools.sql import SQL

_logger = logging.getLogger(__name__)

#: states in which a subscription can still be cancelled by the customer
CANCELLABLE_STATES = ("trial", "active", "paused", "notice")
#: the only columns a write may touch after creation: mail.thread/activity bookkeeping
_MAIL_PREFIXES = ("message_", "activity_", "website_message_")
#: default abuse limits per hour (ir.config_parameter overrides them)
DEFAULT_LIMIT_PER_IP = 10
DEFAULT_LIMIT_PER_EMAIL = 5


class SubscriptionCancellationDeclaration(models.Model):
    """A cancellation declared through the § 312k BGB button ("Verträge hier kündigen").

    Stored once, exactly as submitted, with its receipt date and time; it is never
    changed or deleted afterwards (refused by the ORM and by a database trigger),
    so it is the merchant's evidence of what the customer declared and when.
    """

    _name = "subscription.cancellation.declaration"
    _description = "Cancellation Declaration (§ 312k BGB)"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "receipt_datetime desc, id desc"
    _check_company_auto = True

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    name = fields.Char(string="Reference", required=True, readonly=True, copy=False, default="/")
    receipt_datetime = fields.Datetime(string="Received On", required=True, readonly=True)
    request_date = fields.Date(string="Notice Date", required=True, readonly=True)
    customer_name = fields.Char(string="Name", required=True, readonly=True)
    email = fields.Char(string="E-mail", required=True, readonly=True)
    customer_reference = fields.Char(string="Customer or Contract Reference", readonly=True)
    kind = fields.Selection(
        [("ordinary", "Ordinary"), ("extraordinary", "Extraordinary")],
        string="Kind of Cancellation",
        required=True,
        readonly=True,
    )
    extraordinary_reason = fields.Text(string="Reason for Extraordinary Cancellation", readonly=True)
    end_choice = fields.Selection(
        [("earliest", "Earliest possible date"), ("date", "On a date")],
        string="Desired End",
        required=True,
        readonly=True,
    )
    requested_end_date = fields.Date(readonly=True)
    confirmation_email = fields.Char(string="Confirmation E-mail", required=True, readonly=True)
    subscription_id = fields.Many2one(
        "subscription.subscription", string="Matched Subscription", readonly=True, index=True, ondelete="restrict"
    )
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True, index=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    outcome = fields.Selection(
        [
            ("requested", "Cancellation requested"),
            ("already", "Notice already given"),
            ("merchant", "Merchant confirms"),
        ],
        required=True,
        readonly=True,
        help="Requested: the subscription's cancellation was requested automatically. Notice already given: the "
        "subscription was already cancelled. Merchant confirms: the contract could not be identified or the "
        "cancellation is extraordinary; a merchant confirms the end date.",
    )
    end_date = fields.Date(string="Confirmed End Date", readonly=True)
    ip_address = fields.Char(string="IP Address", readonly=True)
    user_id = fields.Many2one("res.users", string="Submitted by User", readonly=True)
    lang = fields.Char(string="Language", readonly=True)
    submission_key = fields.Char(readonly=True, copy=False)
    access_token = fields.Char(readonly=True, copy=False, groups="base.group_system")

    # ------------------------------------------------------------------
    # Constraints and indexes
    # ------------------------------------------------------------------
    _submission_key_unique = models.UniqueIndex(
        "(submission_key) WHERE submission_key IS NOT NULL",
        "This cancellation form was already submitted.",
    )
    _access_token_unique = models.UniqueIndex("(access_token) WHERE access_token IS NOT NULL")
    _extraordinary_has_reason = models.Constraint(
        "CHECK(kind != 'extraordinary' OR extraordinary_reason IS NOT NULL)",
        "An extraordinary cancellation needs a reason.",
    )
    _date_choice_has_date = models.Constraint(
        "CHECK(end_choice != 'date' OR requested_end_date IS NOT NULL)",
        "A cancellation on a date needs the date.",
    )
    _receipt_datetime_index = models.Index("(receipt_datetime)")

    def init(self):
        """Refuse changing or deleting a declaration in the database itself, whatever writes it."""
        res = super().init()
        self.env.cr.execute(
            SQL(
                """
            CREATE OR REPLACE FUNCTION subscription_cancellation_declaration_immutable() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'cancellation declarations cannot be changed or deleted (id %%)', OLD.id;
            END;
            $$ LANGUAGE plpgsql;
            DROP TRIGGER IF EXISTS subscription_cancellation_declaration_no_update
                ON subscription_cancellation_declaration;
            CREATE TRIGGER subscription_cancellation_declaration_no_update
                BEFORE UPDATE OF name, receipt_datetime, request_date, customer_name, email, customer_reference,
                    kind, extraordinary_reason, end_choice, requested_end_date, confirmation_email,
                    subscription_id, partner_id, company_id, outcome, end_date, ip_address, user_id,
                    submission_key, access_token
                ON subscription_cancellation_declaration
                FOR EACH ROW EXECUTE FUNCTION subscription_cancellation_declaration_immutable();
            DROP TRIGGER IF EXISTS subscription_cancellation_declaration_no_delete
                ON subscription_cancellation_declaration;
            CREATE TRIGGER subscription_cancellation_declaration_no_delete
                BEFORE DELETE ON subscription_cancellation_declaration
                FOR EACH ROW EXECUTE FUNCTION subscription_cancellation_declaration_immutable();
            """
            )
        )
        return res

    # ------------------------------------------------------------------
    # CRUD overrides
    # ------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", "/") == "/":
                vals["name"] = self.env["ir.sequence"].sudo().next_by_code("subscription.cancellation.declaration")
            vals.setdefault("access_token", secrets.token_urlsafe(32))
        return super().create(vals_list)

    def write(self, vals):
        forbidden = [fname for fname in vals if not fname.startswith(_MAIL_PREFIXES)]
        if forbidden:
            raise UserError(
                self.env._(
                    "Cancellation declaration %(ref)s cannot be changed (field %(field)s): it is kept exactly as "
                    "the customer submitted it.",
                    ref=", ".join(self.mapped("name")),
                    field=", ".join(self._fields[f].string for f in forbidden if f in self._fields) or forbidden[0],
                )
            )
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(
            self.env._(
                "Cancellation declaration %(ref)s cannot be deleted: it is the record of what the customer "
                "declared and when.",
                ref=", ".join(self.mapped("name")),
            )
        )

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    @api.model
    def _validate_form(self, form, date_ref, user=None):
        """Check the submitted form.

        :param form: the posted values (strings)
        :param date_ref: today for the visitor (a requested end date may not lie before it)
        :param user: the logged-in user, or ``None`` for a visitor
        :return: ``(values, errors)``: the values of a declaration, and ``{field: message}``
        """
        errors = {}
        name = (form.get("customer_name") or "").strip()
        email = email_normalize((form.get("email") or "").strip())
        confirmation_email = email_normalize((form.get("confirmation_email") or "").strip() or email or "")
        kind = form.get("kind") or "ordinary"
        reason = (form.get("extraordinary_reason") or "").strip()
        end_choice = form.get("end_choice") or "earliest"
        requested_end_date = False
        if not name:
            errors["customer_name"] = self.env._("Please enter your name.")
        if len(name) > 200:
            errors["customer_name"] = self.env._("The name is too long (at most 200 characters).")
        if not email:
            errors["email"] = self.env._("Please enter a valid e-mail address.")
        if not confirmation_email:
            errors["confirmation_email"] = self.env._("Please enter a valid e-mail address for the confirmation.")
        if kind not in ("ordinary", "extraordinary"):
            errors["kind"] = self.env._("Please choose the kind of cancellation.")
        elif kind == "extraordinary" and not reason:
            errors["extraordinary_reason"] = self.env._("Please give the reason for the extraordinary cancellation.")
        if end_choice not in ("earliest", "date"):
            errors["end_choice"] = self.env._("Please choose when the contract should end.")
        elif end_choice == "date":
            try:
                requested_end_date = fields.Date.to_date(form.get("requested_end_date") or None)
            except ValueError:
                requested_end_date = False
            if not requested_end_date:
                errors["requested_end_date"] = self.env._("Please enter the date the contract should end.")
            elif requested_end_date < date_ref:
                errors["requested_end_date"] = self.env._(
                    "The end date %(date)s lies in the past.", date=format_date(self.env, requested_end_date)
                )
        reference = (form.get("customer_reference") or "").strip()[:100]
        subscription = self.env["subscription.subscription"]
        if user and not user._is_public() and (form.get("subscription_id") or "").isdigit():
            # only a contract of the user's own customer: anything else is treated as not identified
            subscription = (
                self.env["subscription.subscription"]
                .sudo()
                .search(
                    [
                        ("id", "=", int(form["subscription_id"])),
                        ("commercial_partner_id", "=", user.partner_id.commercial_partner_id.id),
                        ("state", "in", CANCELLABLE_STATES),
                    ]
                )
            )
        values = {
            "customer_name": name,
            "email": email,
            "customer_reference": reference or (subscription.name if subscription else False),
            "kind": kind,
            "extraordinary_reason": reason if kind == "extraordinary" else False,
            "end_choice": end_choice,
            "requested_end_date": requested_end_date if end_choice == "date" else False,
            "confirmation_email": confirmation_email,
            "subscription_id": subscription.id,
            "submission_key": (form.get("submission_key") or "")[:64] or False,
        }
        return values, errors

    @api.model
    def _check_rate_limit(self, ip_address, email, now):
        """Whether another declaration from ``ip_address`` / ``email`` is allowed in the hour before ``now``."""
        params = self.env["ir.config_parameter"].sudo()
        limit_ip = int(params.get_param("subscription_billing.cancellation_limit_per_ip", DEFAULT_LIMIT_PER_IP))
        limit_email = int(
            params.get_param("subscription_billing.cancellation_limit_per_email", DEFAULT_LIMIT_PER_EMAIL)
        )
        since = now - timedelta(hours=1)
        Declaration = self.sudo().with_context(active_test=False)
        if (
            ip_address
            and Declaration.search_count(
                [("ip_address", "=", ip_address), ("receipt_datetime", ">", since)], limit=limit_ip
            )
            >= limit_ip
        ):
            return False
        return not (
            email
            and Declaration.search_count([("email", "=", email), ("receipt_datetime", ">", since)], limit=limit_email)
            >= limit_email
        )

    @api.model
    def _match_subscription(self, values):
        """The one subscription the identification designates, or an empty recordset.

        The reference must be the contract reference or the customer number, and the e-mail
        address one on file for that contract's customer; several matches count as none.
        """
        if values.get("subscription_id"):
            return self.env["subscription.subscription"].sudo().browse(values["subscription_id"])
        reference = values.get("customer_reference")
        email = values.get("email")
        Subscription = self.env["subscription.subscription"].sudo()
        if not reference or not email:
            return Subscription
        escaped = reference.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        candidates = Subscription.search(
            [
                ("state", "in", CANCELLABLE_STATES),
                "|",
                ("name", "=ilike", escaped),
                ("commercial_partner_id.ref", "=ilike", escaped),
            ],
            limit=50,
        )
        matches = candidates.filtered(
            lambda sub: (
                email
                in {
                    email_normalize(partner.email or "")
                    for partner in sub.partner_id | sub.commercial_partner_id | sub.partner_invoice_id
                }
            )
        )
        return matches if len(matches) == 1 else Subscription

    @api.model
    def _submit(self, form, ip_address=None, user=None, receipt_datetime=None):
        """Store the declaration, act on the matched subscription, send the confirmation.

        Entry point of the public form. ``form`` is validated again here.

        :return: the declaration (an existing one when the same form was submitted before)
        :raise UserError: invalid form (the controller checks it before)
        """
        receipt = receipt_datetime or fields.Datetime.now()
        company = self.env.company
        date_ref = self._get_local_date(receipt, company)
        values, errors = self._validate_form(form, date_ref, user=user)
        if errors:
            raise UserError("\n".join(errors.values()))
        Declaration = self.sudo()
        if values["submission_key"]:
            existing = Declaration.search([("submission_key", "=", values["submission_key"])], limit=1)
            if existing:
                return existing
        subscription = self._match_subscription(values)
        if subscription:
            company = subscription.company_id
            date_ref = self._get_local_date(receipt, company)
        outcome, end_date = "merchant", False
        if subscription and values["kind"] == "ordinary":
            outcome, end_date = self._cancel_subscription(subscription, values, date_ref)
        values.update(
            {
                "receipt_datetime": receipt,
                "request_date": date_ref,
                "subscription_id": subscription.id,
                "partner_id": subscription.commercial_partner_id.id,
                "company_id": company.id,
                "outcome": outcome,
                "end_date": end_date,
                "ip_address": (ip_address or "")[:64] or False,
                "user_id": user.id if user and not user._is_public() else False,
                "lang": self.env.lang,
            }
        )
        try:
            with self.env.cr.savepoint():
                declaration = Declaration.create(values)
        except Exception:
            # the same form submitted twice at once: the unique key let only one through
            existing = values["submission_key"] and Declaration.search(
                [("submission_key", "=", values["submission_key"])], limit=1
            )
            if not existing:
                raise
            return existing
        declaration._after_submit(subscription)
        return declaration

    @api.model
    def _cancel_subscription(self, subscription, values, date_ref):
        """Request the ordinary cancellation of ``subscription`` at the earliest lawful date, or the
        later date the customer asked for.

        :return: ``(outcome, end_date)``
        """
        if subscription.state == "notice":
            return "already", subscription.end_date
        earliest = subscription._get_earliest_end_date(date_ref)
        requested = values.get("requested_end_date")
        later = requested if requested and requested > earliest else None
        reason = self.env._("Declared online by the customer (cancellation button).")
        try:
            with self.env.cr.savepoint():
                end = subscription._request_cancellation(date_ref, reason=reason, end_date=later)
        except UserError as error:
            _logger.info("cancellation of %s by declaration needs the merchant: %s", subscription.name, error)
            return "merchant", False
        return "requested", end

    def _after_submit(self, subscription):
        """Chatter, merchant activity and the confirmation e-mail of a new declaration."""
        self.ensure_one()
        link = Markup('<a href="#" data-oe-model="%s" data-oe-id="%s">%s</a>') % (self._name, self.id, self.name)
        if subscription:
            subscription.message_post(
                body=Markup("%s %s") % (self.env._("Cancellation declared by the customer online:"), link),
                subtype_xmlid="mail.mt_note",
            )
        if self.outcome == "merchant":
            target = subscription or self
            target.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=self.env._("Confirm the cancellation %(ref)s", ref=self.name),
                note=self._get_merchant_note(subscription),
                user_id=self._get_responsible_user(subscription).id,
            )
        self._send_confirmation(subscription)

    def _get_merchant_note(self, subscription):
        self.ensure_one()
        if not subscription:
            return self.env._(
                "The contract of this cancellation declaration could not be identified automatically. Identify it, "
                "request its cancellation and confirm the end date to %(email)s.",
                email=self.confirmation_email,
            )
        if self.kind == "extraordinary":
            return self.env._(
                "Extraordinary cancellation; reason: %(reason)s. Check it and confirm the end date to %(email)s.",
                reason=self.extraordinary_reason,
                email=self.confirmation_email,
            )
        return self.env._(
            "The cancellation could not be requested automatically. Request it and confirm the end date to %(email)s.",
            email=self.confirmation_email,
        )

    def _get_responsible_user(self, subscription):
        """Who confirms by hand: the subscription's responsible, else a subscription administrator."""
        if subscription and subscription.user_id and not subscription.user_id.share:
            return subscription.user_id
        company = subscription.company_id or self.company_id
        managers = self.env.ref("subscription_billing.group_subscription_manager").sudo().all_user_ids
        managers = managers.filtered(lambda u: not u.share and company in u.company_ids)
        return managers.sorted("id")[:1] or self.env.ref("base.user_admin")

    def _send_confirmation(self, subscription):
        """E-mail the confirmation at once to the address given, and a copy to the customer's address
        on file when it differs (so a customer learns of a cancellation someone else declared)."""
        self.ensure_one()
        template = self.env.ref("subscription_billing.mail_template_cancellation_declaration")
        template.sudo().send_mail(self.id, force_send=True, email_values={"email_to": self.confirmation_email})
        on_file = email_normalize(subscription.partner_id.email or "") if subscription else False
        if on_file and on_file != self.confirmation_email:
            template.sudo().send_mail(self.id, force_send=True, email_values={"email_to": on_file})

    @api.model
    def _get_local_date(self, moment, company):
        """The date of ``moment`` in the company's time zone."""
        tz = company.sudo().partner_id.tz or "UTC"
        return fields.Date.context_today(self.with_context(tz=tz), timestamp=moment)

    # ------------------------------------------------------------------
    # Getters
    # ------------------------------------------------------------------
    def _get_receipt_url(self):
        self.ensure_one()
        return f"/contract-cancellation/receipt/{self.id}?access_token={self.sudo().access_token}"

    def _get_receipt_datetime_display(self):
        """The receipt date and time with its time zone, as shown to the customer."""
        self.ensure_one()
        tz = self.company_id.partner_id.tz or "UTC"
        return f"{format_datetime(self.env, self.receipt_datetime, tz=tz, dt_format='medium')} ({tz})"
