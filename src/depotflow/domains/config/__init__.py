"""Configuration: public branding and the organisation identity used by documents."""
