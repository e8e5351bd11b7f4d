"""The application layer: the only place that opens transactions and writes the audit log."""
