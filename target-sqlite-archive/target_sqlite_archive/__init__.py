"""Singer target writing a normalized, upserted, versioned SQLite archive."""
