"""Permission slugs of the part domain."""

VIEW = "part.view"
ADD = "part.add"
CHANGE = "part.change"

CATALOGUE = {
    VIEW: "See parts, part categories and units of measure",
    ADD: "Create parts, part categories and units of measure",
    CHANGE: "Change parts, part categories and units of measure (and delete empty categories)",
}
