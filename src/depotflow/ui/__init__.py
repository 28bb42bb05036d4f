"""Browser UI served at /web/."""
