"""Permission slugs of procurement."""

VIEW = "procurement.view"
ADD = "procurement.add"
CHANGE = "procurement.change"
CANCEL = "procurement.cancel"
REFUSE = "procurement.refuse"
FINISH = "procurement.finish"
RECEIVE = "procurement.receive"
REVERSE_RECEIPT = "procurement.reverse_receipt"

CATALOGUE = {
    VIEW: "See purchase orders, their lines, receipts, QC records and attachments",
    ADD: "Create purchase orders",
    CHANGE: "Change pending purchase orders: header, lines, documents, attachments",
    CANCEL: "Cancel any pending purchase order (creators may cancel their own)",
    REFUSE: "Refuse a pending or issued purchase order, with a reason",
    FINISH: "Finish an issued purchase order that was delivered short, with a reason",
    RECEIVE: "Receive stock against issued purchase orders",
    REVERSE_RECEIPT: "Reverse a receipt whose lot has not been used yet",
}
