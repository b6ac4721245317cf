"""Qt item models (views read from these)."""
