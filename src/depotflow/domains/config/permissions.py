"""Permission slugs of the config domain."""

VIEW = "config.view"
CHANGE = "config.change"

CATALOGUE = {
    VIEW: "See the organisation settings",
    CHANGE: "Change branding and organisation settings",
}
