from unittest.mock import patch

from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase, tagged

from .common import SubscriptionCommon

CHECK_VIES = "odoo.addons.subscription_billing.models.subscription_signup.eu_vat.check_vies"


@tagged("post_install", "-at_install", "subscription_billing")
class TestSignupVat(SubscriptionCommon, TransactionCase):
    """The signup's VAT number: format and country always; VIES only where the company enabled base_vat's
    "Verify VAT Numbers", and a VIES outage never blocks the signup (format-checked, noted, no reverse charge)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.family = cls.env["subscription.plan.family"].create({"name": "VAT family"})
        cls.plan = cls._create_plan(code="VAT-1", name="VAT plan", price=10.0, family_id=cls.family.id, rank=1)
        cls.Signup = cls.env["subscription.signup"].sudo()

    def _form(self, **values):
        return {
            "customer_type": "company",
            "name": "Vera Vat",
            "company_name": "Vat GmbH",
            "email": "vera.vat@example.com",
            "street": "Hauptstraße 1",
            "zip": "10115",
            "city": "Berlin",
            "country_id": str(self.env.ref("base.fr").id),
            "vat": "FR40303265045",
            "payment": "trial",
            "accept_terms": "1",
            "submission_key": "vat-key-1",
            **values,
        }

    def _signup(self, **values):
        # trial plan: no payment details needed to reach the VAT step
        self.plan.write({"trial_period_count": 14, "trial_period_unit": "day", "requires_payment_method": False})
        return self.Signup._signup(self.plan, self.env.company.currency_id, self._form(**values))

    def _enable_vies(self):
        if "vat_check_vies" not in self.env.company._fields:
            self.skipTest("base_vat is not installed")
        self.env.company.vat_check_vies = True

    def test_vat_must_match_the_country_of_the_address(self):
        _values, errors = self.Signup._validate_form(self.plan, self._form(vat="DE123456788"))
        self.assertIn("is not from France", errors["vat"])
        _values, errors = self.Signup._validate_form(self.plan, self._form())
        self.assertNotIn("vat", errors, "a French number for a French address")
        _values, errors = self.Signup._validate_form(
            self.plan, self._form(vat="EL094259216", country_id=str(self.env.ref("base.gr").id))
        )
        self.assertNotIn("vat", errors, "Greece's VAT prefix is EL")

    def test_vies_is_not_asked_unless_the_company_enabled_it(self):
        with patch(CHECK_VIES, side_effect=AssertionError("VIES must not be called")):
            signup = self._signup()
        self.assertFalse(signup.vat_vies_state)

    def test_vies_valid_number_is_recorded(self):
        self._enable_vies()
        with patch(CHECK_VIES, return_value={"valid": True}) as check:
            signup = self._signup()
        check.assert_called_once()
        self.assertEqual(signup.vat_vies_state, "valid")
        self.assertTrue(signup.partner_id.vies_valid)

    def test_vies_invalid_number_is_refused(self):
        self._enable_vies()
        with patch(CHECK_VIES, return_value={"valid": False}), self.assertRaisesRegex(ValidationError, "VIES"):
            self._signup()
        self.assertFalse(self.Signup.search([("submission_key", "=", "vat-key-1")]))

    def test_vies_unreachable_falls_back_to_the_format_check_and_says_so(self):
        """VIES down: the signup goes through, recorded as unreachable, noted for the team; the partner is not
        VIES-valid, so no reverse charge is applied on the strength of an unchecked number."""
        self._enable_vies()
        with patch(CHECK_VIES, side_effect=OSError("connection refused")):
            signup = self._signup()
        self.assertEqual(signup.vat_vies_state, "unreachable")
        self.assertFalse(signup.partner_id.vies_valid)
        bodies = signup.subscription_id.message_ids.mapped("body")
        self.assertTrue(any("VIES could not be reached" in (body or "") for body in bodies))
