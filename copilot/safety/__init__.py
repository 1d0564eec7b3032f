"""What may be stored or shown: PII redaction, and the URL and leak checks on every reply."""
