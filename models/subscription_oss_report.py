from odoo import fields, models, tools
from odoo.tools import SQL


class SubscriptionOssReport(models.Model):
    """EU One-Stop-Shop summary: taxable base and VAT per quarter, member state of consumption and rate.

    Read-only SQL view over the posted customer invoices and credit notes
    (negative) of each company. OSS taxes are those ``l10n_eu_oss`` creates:
    their repartition lines carry its "OSS" tag. The member state is the
    country of the invoice's fiscal position (the OSS position of that
    country), else the customer's country. Amounts are in company currency,
    dated by the accounting date.
    """

    _name = "subscription.oss.report"
    _description = "OSS Summary"
    _auto = False
    _order = "period_start desc, country_id, tax_rate"
    _rec_name = "period"

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    period_start = fields.Date(string="Quarter Start", readonly=True)
    year = fields.Integer(readonly=True, aggregator=None)
    quarter = fields.Integer(string="Quarter No.", readonly=True, aggregator=None)
    period = fields.Char(string="Quarter", readonly=True, help="Year and quarter, e.g. 2026-Q1.")
    country_id = fields.Many2one("res.country", string="Member State", readonly=True)
    tax_id = fields.Many2one("account.tax", readonly=True)
    tax_rate = fields.Float(string="Rate (%)", readonly=True, aggregator=None, digits=(16, 2))
    base_amount = fields.Monetary(string="Taxable Base", readonly=True, currency_field="currency_id")
    tax_amount = fields.Monetary(string="VAT", readonly=True, currency_field="currency_id")
    invoice_count = fields.Integer(string="Documents", readonly=True)

    # ------------------------------------------------------------------
    # View
    # ------------------------------------------------------------------
    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(SQL("CREATE OR REPLACE VIEW %s AS (%s)", SQL.identifier(self._table), self._query()))

    def _query(self):
        return SQL(
            """
            WITH oss_tax AS (
                SELECT DISTINCT rep.tax_id AS id
                  FROM account_tax_repartition_line rep
                  JOIN account_account_tag_account_tax_repartition_line_rel tag_rel
                    ON tag_rel.account_tax_repartition_line_id = rep.id
                  JOIN ir_model_data imd
                    ON imd.model = 'account.account.tag' AND imd.res_id = tag_rel.account_account_tag_id
                 WHERE imd.module = 'l10n_eu_oss' AND imd.name = 'tag_oss'
            ),
            amounts AS (
                SELECT aml.move_id, tax_rel.account_tax_id AS tax_id, -aml.balance AS base, 0.0 AS tax
                  FROM account_move_line aml
                  JOIN account_move_line_account_tax_rel tax_rel ON tax_rel.account_move_line_id = aml.id
                  JOIN oss_tax ON oss_tax.id = tax_rel.account_tax_id
                 WHERE aml.tax_line_id IS NULL
                UNION ALL
                SELECT aml.move_id, aml.tax_line_id, 0.0, -aml.balance
                  FROM account_move_line aml
                  JOIN oss_tax ON oss_tax.id = aml.tax_line_id
            )
            SELECT ROW_NUMBER() OVER (ORDER BY move.company_id, DATE_TRUNC('quarter', move.date),
                                      COALESCE(fpos.country_id, partner.country_id), tax.id) AS id,
                   move.company_id,
                   company.currency_id,
                   DATE_TRUNC('quarter', move.date)::date AS period_start,
                   EXTRACT(YEAR FROM move.date)::int AS year,
                   EXTRACT(QUARTER FROM move.date)::int AS quarter,
                   TO_CHAR(move.date, 'YYYY-"Q"Q') AS period,
                   COALESCE(fpos.country_id, partner.country_id) AS country_id,
                   tax.id AS tax_id,
                   tax.amount AS tax_rate,
                   SUM(amounts.base) AS base_amount,
                   SUM(amounts.tax) AS tax_amount,
                   COUNT(DISTINCT move.id) AS invoice_count
              FROM amounts
              JOIN account_move move ON move.id = amounts.move_id
              JOIN account_tax tax ON tax.id = amounts.tax_id
              JOIN res_company company ON company.id = move.company_id
              JOIN res_partner partner ON partner.id = move.commercial_partner_id
              LEFT JOIN account_fiscal_position fpos ON fpos.id = move.fiscal_position_id
             WHERE move.state = 'posted'
               AND move.move_type IN ('out_invoice', 'out_refund')
          GROUP BY move.company_id, company.currency_id, DATE_TRUNC('quarter', move.date),
                   EXTRACT(YEAR FROM move.date), EXTRACT(QUARTER FROM move.date), TO_CHAR(move.date, 'YYYY-"Q"Q'),
                   COALESCE(fpos.country_id, partner.country_id), tax.id, tax.amount
            """
        )
