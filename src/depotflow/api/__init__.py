"""Composition of the HTTP surface: native routers and external API contracts."""
