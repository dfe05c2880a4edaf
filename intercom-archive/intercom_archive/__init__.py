"""intercom-archive: the read side of an Intercom archive written by target-sqlite-archive."""
