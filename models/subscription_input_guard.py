import math

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..billing_core import bounds

#: context key under which the model's own methods write protected fields
SYSTEM_WRITE_KEY = "subscription_system_write"


class _SystemWriteToken:
    """The context value that opens protected fields.

    A private object, not a JSON value: a context sent over RPC (``/json/2``,
    ``call_kw``) cannot carry it, so ``{"subscription_system_write": true}``
    from a client opens nothing.
    """

    __slots__ = ()

    def __repr__(self):
        return "<subscription system write>"


SYSTEM_WRITE_TOKEN = _SystemWriteToken()


class SubscriptionInputGuardMixin(models.AbstractModel):
    """Where values enter a model: raw values checked, system-managed fields protected.

    Before Odoo converts them, ``write`` and ``create`` refuse numbers that are
    not finite (JSON-RPC accepts ``NaN`` and ``Infinity``), integers beyond
    PostgreSQL's range and dates that do not parse, with a message naming the
    field instead of a server error.

    They also refuse the fields of :meth:`_get_protected_fields`
    from everyone (also administrators, also ``sudo()``), unless the call
    comes from :meth:`_write_system_fields` or another method running under
    :meth:`_as_system`. Writing a field's current value again is allowed, so a
    client that sends back what it read does not fail.
    """

    _name = "subscription.input.guard.mixin"
    _description = "Input Guard of Subscription Models"

    # ------------------------------------------------------------------
    # CRUD overrides
    # ------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        if self._is_system_write():
            return super().create(vals_list)
        for vals in vals_list:
            self._check_raw_values(vals)
        protected = self._get_protected_fields()
        defaults = [key for key in self.env.context if key.startswith("default_") and key[8:] in protected]
        if defaults:
            # a default in the context must not set what the values may not
            # pylint: disable-next=context-overridden  # kept as it is: a positional dict replaces the context
            self = self.with_context(dict.fromkeys(defaults))  # noqa: PLW0642
        initial = self.default_get(list(protected))
        for vals in vals_list:
            for fname in protected:
                if fname in vals and vals[fname] and not self._same_value(fname, vals[fname], initial.get(fname)):
                    self._raise_protected(fname)
        return super().create(vals_list)

    def write(self, vals):
        if not self._is_system_write():
            self._check_raw_values(vals)
            for fname in self._get_protected_fields():
                if fname in vals and any(not rec._same_value(fname, vals[fname], rec[fname]) for rec in self):
                    self._raise_protected(fname)
        return super().write(vals)

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    def _check_raw_values(self, vals):
        """Refuse values Odoo cannot convert: non-finite numbers, huge integers, unparsable dates."""
        for fname, value in vals.items():
            field = self._fields.get(fname)
            if field is None or value is None or value is False or isinstance(value, bool):
                continue
            if field.type in ("float", "monetary", "integer") and isinstance(value, (int, float, str)):
                try:
                    number = float(value)
                except ValueError:
                    number = math.nan
                if not math.isfinite(number):
                    raise ValidationError(
                        self.env._(
                            "%(field)s of %(model)s must be a finite number, got %(value)s.",
                            field=field._description_string(self.env),
                            model=self._description,
                            value=value,
                        )
                    )
                if field.type == "integer" and abs(number) > bounds.MAX_INTEGER:
                    raise ValidationError(
                        self.env._(
                            "%(field)s of %(model)s is too large (%(value)s): at most %(max)s.",
                            field=field._description_string(self.env),
                            model=self._description,
                            value=value,
                            max=bounds.MAX_INTEGER,
                        )
                    )
            elif field.type in ("date", "datetime") and isinstance(value, str):
                try:
                    if field.type == "date":
                        fields.Date.to_date(value)
                    else:
                        fields.Datetime.to_datetime(value)
                except ValueError:
                    raise ValidationError(
                        self.env._(
                            "%(field)s of %(model)s must be a date (YYYY-MM-DD), got %(value)s.",
                            field=field._description_string(self.env),
                            model=self._description,
                            value=value,
                        )
                    ) from None

    def _get_protected_fields(self):
        """Names of the fields that only the model's own methods write (hook)."""
        return ()

    def _as_system(self):
        """These records in an environment whose writes may set protected fields."""
        # pylint: disable-next=context-overridden  # kept as it is: a positional dict replaces the context
        return self.with_context({SYSTEM_WRITE_KEY: SYSTEM_WRITE_TOKEN})

    def _write_system_fields(self, vals):
        """Write ``vals``, protected fields included: for the model's own lifecycle and billing methods."""
        return self._as_system().write(vals)

    def _is_system_write(self):
        return self.env.context.get(SYSTEM_WRITE_KEY) is SYSTEM_WRITE_TOKEN

    def _same_value(self, fname, value, current):
        """Whether writing ``value`` into ``fname`` would leave ``current`` unchanged."""
        field = self._fields[fname]
        record = self[:1] or self
        try:
            new = field.convert_to_cache(value, record, validate=False)
            old = field.convert_to_cache(current, record, validate=False)
        except (TypeError, ValueError):
            return False
        if field.type == "many2one":
            new, old = (new.id if hasattr(new, "id") else new), (old.id if hasattr(old, "id") else old)
        return (new or False) == (old or False)

    def _raise_protected(self, fname):
        field = self._fields[fname]
        raise UserError(
            self.env._(
                "The field %(field)s (%(name)s) of %(model)s is set by the subscription's own actions "
                "(start, pause, cancel, billing run) and cannot be written directly.",
                field=field._description_string(self.env),
                name=fname,
                model=self._description,
            )
        )
