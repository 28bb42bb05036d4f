"""Procurement: purchase orders from pending through approval, receipt and QC release."""
