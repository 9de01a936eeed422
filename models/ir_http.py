import json

import werkzeug.exceptions

from odoo import models
from odoo.http import request

from ..controllers.api_common import problem_body
from ..controllers.api_openapi import API_PREFIX


class IrHttp(models.AbstractModel):
    """Errors Odoo raises before an API route runs (no route for the path, a method the route does
    not accept) answer in problem+json under the API prefix, like the API's own errors."""

    _inherit = "ir.http"

    @classmethod
    def _handle_error(cls, exception):
        path = request.httprequest.path if request else ""
        if (path == API_PREFIX or path.startswith(API_PREFIX + "/")) and isinstance(
            exception, werkzeug.exceptions.HTTPException
        ):
            status = exception.code or 500
            code = {404: "route_not_found", 405: "method_not_allowed"}.get(status, "http_error")
            body = problem_body(status, code, exception.description or exception.name)
            return request.make_response(
                json.dumps(body),
                headers=[("Content-Type", "application/problem+json; charset=utf-8")],
                status=status,
            )
        return super()._handle_error(exception)
