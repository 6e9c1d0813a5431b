"""Manual -> reward table (offline, cached) -> reward wrappers (online lookups)."""
