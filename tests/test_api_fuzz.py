import shutil
import subprocess

from odoo.tests import tagged

from odoo.addons.subscription_billing.controllers.api_openapi import API_PREFIX

from .common_api import ApiCommon

#: the time budget of the fuzz run (seconds); the test command stays bounded
FUZZ_SECONDS = 60
#: the time budget of the stateful run (sequences following the document's links)
STATEFUL_SECONDS = 45
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


@tagged("post_install", "-at_install", "subscription_billing")
class TestApiFuzz(ApiCommon):
    """Schemathesis generates requests from the served OpenAPI document (valid and invalid ones)
    against the running test server, with a valid API key, for FUZZ_SECONDS."""

    def _run_schemathesis(self, phases, seconds):
        """``st run`` of ``phases`` for at most ``seconds`` against the test server: its exit code
        and output."""
        # thousands of requests in one minute: the rate limit is tested in test_api_rate_limit.py
        self.env["ir.config_parameter"].sudo().set_param("subscription_billing.api_rate_limit", "0")
        st = shutil.which("st")
        self.assertTrue(st, "schemathesis is a test requirement (requirements-test.txt)")
        cmd = [
            st,
            "run",
            f"{self.base_url()}{API_PREFIX}/openapi.json",
            "--header",
            f"Authorization: Bearer {self.key}",
            "--checks",
            CHECKS,
            "--max-time",
            str(seconds),
            "--workers",
            "1",
            "--phases",
            phases,
            "--suppress-health-check",
            "all",
            "--seed",
            "4711",
        ]
        with self.allow_requests(all_requests=True):
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 5, check=False)  # noqa: S603
        return proc.returncode, proc.stdout[-8000:] + proc.stderr[-2000:]

    def test_fuzz_finds_no_server_error_and_no_undocumented_answer(self):
        """No 500, and every answer's status, content type and body are the documented ones."""
        returncode, output = self._run_schemathesis("examples,coverage,fuzzing", FUZZ_SECONDS)
        self.assertEqual(returncode, 0, output)

    def test_stateful_sequences_find_no_server_error_and_no_undocumented_answer(self):
        """Stateful phase: sequences that follow the document's links (create a customer, then
        read, update it and add a mandate; create a subscription, then pause, resume, change,
        cancel, reactivate it; create an endpoint, then read and update it) with generated data:
        no 500 and only documented answers, for STATEFUL_SECONDS."""
        returncode, output = self._run_schemathesis("stateful", STATEFUL_SECONDS)
        self.assertEqual(returncode, 0, output)
        self.assertIn("Stateful", output, "the stateful phase ran (the document's links were accepted)")
