"""The HTTP kit shared by domain routers and API adapters."""
