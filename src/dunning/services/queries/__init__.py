"""Read models of the console, the API and the CLI: one module per resource (filters, totals, pages, sorting,
exports). Nothing here writes, except the audit event an export leaves."""
