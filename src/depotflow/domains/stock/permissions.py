"""Permission slugs of the stock domain."""

VIEW = "stock.view"
MANAGE_LOCATIONS = "stock.manage_locations"
ADJUST = "stock.adjust"
QC_RECORD = "qc.record"
QC_RELEASE = "qc.release"

CATALOGUE = {
    VIEW: "See stock locations, statuses, lots, balances and the movement ledger",
    MANAGE_LOCATIONS: "Create and change stock locations",
    ADJUST: "Post stock movements by hand: adjustments, scrap and transfers",
    QC_RECORD: "Record quality-control sampling and analysis results",
    QC_RELEASE: "Confirm quality-control results with an electronic signature (release or reject lots)",
}
