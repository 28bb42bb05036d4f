"""The shared file store: content-addressed, deduplicated bytes behind authorised endpoints."""
