from odoo import http
from odoo.http import request
from odoo.tools.misc import file_open

#: the browser side of the JavaScript SDK (sdk/src), served read-only under these names only
SDK_FILES = {
    "index.js": "text/javascript; charset=utf-8",
    "index.d.ts": "text/plain; charset=utf-8",
}


class SubscriptionSdkFiles(http.Controller):
    @http.route(
        "/subscription_billing/sdk/<string:name>",
        type="http",
        auth="public",
        methods=["GET"],
        sitemap=False,
        save_session=False,
        readonly=True,
        cors="*",
    )
    def sdk_file(self, name):
        """The SDK as an ES module for ``import`` from the merchant's pages (public code, any origin: module
        scripts are fetched with CORS). Only the whitelisted files; the Node client is not served."""
        content_type = SDK_FILES.get(name)
        if not content_type:
            raise request.not_found()
        with file_open(f"subscription_billing/sdk/src/{name}", "rb") as source:
            content = source.read()
        headers = [
            ("Content-Type", content_type),
            ("Cache-Control", "public, max-age=3600"),
            ("X-Content-Type-Options", "nosniff"),
        ]
        return request.make_response(content, headers=headers)
