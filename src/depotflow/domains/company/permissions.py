"""Permission slugs of the company domain."""

VIEW = "company.view"
ADD = "company.add"
CHANGE = "company.change"

CATALOGUE = {
    VIEW: "See companies (suppliers, manufacturers, customers) and supplier parts",
    ADD: "Create companies and supplier parts",
    CHANGE: "Change companies and supplier parts",
}
