import logging

from markupsafe import Markup

from odoo import fields, models
from odoo.exceptions import UserError, ValidationError

_logger = logging.getLogger(__name__)

# the subscription states in which the customer may replace the payment method in the portal
PORTAL_PAYMENT_STATES = ("trial", "active", "paused", "notice")


class SubscriptionSubscription(models.Model):
    """A new card (or other tokenizable method) entered in Odoo's payment form becomes the payment method.

    The form runs a *validation* transaction (``operation='validation'``) tied to the subscription
    (``payment.transaction.subscription_tokenize_id``); when the provider confirms it, the transaction's
    post-processing calls ``_payment_form_use_transaction`` here. A subscription created by the hosted
    signup with "card" stays a draft until then and starts on that confirmation.
    """

    _inherit = "subscription.subscription"

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    def _payment_form_get_signup(self):
        """The hosted signup that waits for this draft subscription's payment method, if any."""
        self.ensure_one()
        if self.state != "draft":
            return self.env["subscription.signup"]
        return (
            self.env["subscription.signup"]
            .sudo()
            .search([("subscription_id", "=", self.id), ("awaiting_payment_method", "=", True)], limit=1)
        )

    def _payment_form_check(self):
        """Refuse the payment form where no payment method can be set now (whatever the page showed)."""
        self.ensure_one()
        if self.state in PORTAL_PAYMENT_STATES or self._payment_form_get_signup():
            return
        raise UserError(
            self.env._(
                "Subscription %(sub)s cannot get a new payment method now (state: %(state)s).",
                sub=self.display_name,
                state=dict(self._fields["state"]._description_selection(self.env)).get(self.state),
            )
        )

    def _payment_form_get_providers(self, partner):
        """``(providers_sudo, payment_methods_sudo)`` that can save a payment method of ``partner`` for
        this subscription: tokenizing providers of its company that accept its currency."""
        self.ensure_one()
        Provider = self.env["payment.provider"].sudo()
        providers = Provider._get_compatible_providers(
            self.company_id.id,
            partner.id,
            0.0,  # a validation charges nothing (or the provider's own validation amount)
            currency_id=self.currency_id.id,
            force_tokenization=True,
            is_validation=True,
        )
        methods = (
            self.env["payment.method"]
            .sudo()
            ._get_compatible_payment_methods(
                providers.ids, partner.id, currency_id=self.currency_id.id, force_tokenization=True
            )
        )
        return providers, methods

    def _payment_form_use_transaction(self, tx, date_ref=None):
        """Post-processing of a validation ``tx`` of the payment form for this subscription.

        Only a confirmed transaction of this very subscription whose token belongs to the subscription's
        customer changes anything: the token becomes the payment method (a portal change, logged as done by
        the customer), or, for a signup waiting for its payment method, the subscription starts. A refused,
        cancelled or pending transaction leaves the subscription as it is.
        """
        self.ensure_one()
        token = tx.token_id
        if tx.subscription_tokenize_id != self or tx.state not in ("done", "authorized") or not token:
            return False
        customer = self.commercial_partner_id
        if token.partner_id.commercial_partner_id != customer or tx.partner_id.commercial_partner_id != customer:
            _logger.warning(
                "Transaction %s: the token of %s is not for the customer of subscription %s; ignored.",
                tx.reference,
                token.partner_id.display_name,
                self.display_name,
            )
            return False
        if self.payment_method == "token" and self.payment_token_id == token:
            return True  # post-processed twice (cron and status page): done already
        date_ref = date_ref or fields.Date.context_today(self)
        try:
            with self.env.cr.savepoint():
                signup = self._payment_form_get_signup()
                if signup:
                    signup._complete_with_token(token, date_ref)
                else:
                    self._portal_set_payment_token(token.id)
        except (UserError, ValidationError) as error:
            # e.g. cancelled meanwhile: the token stays with the customer; the team sees why it was not used
            self.message_post(
                body=Markup("%s")
                % self.env._(
                    "The payment method %(token)s the customer entered could not be used: %(reason)s",
                    token=token.display_name,
                    reason=str(error.args[0] if error.args else error),
                ),
                subtype_xmlid="mail.mt_note",
            )
            return False
        return True
