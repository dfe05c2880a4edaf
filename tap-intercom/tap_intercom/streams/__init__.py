"""Stream classes grouped by API area."""
