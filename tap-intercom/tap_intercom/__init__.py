"""Singer tap for the Intercom REST API."""
