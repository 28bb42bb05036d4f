"""Errors of the company domain."""

from depotflow.core.errors import Conflict, NotFound, ValidationFailed


class CompanyNotFound(NotFound):
    code = "company.not_found"


class SupplierPartNotFound(NotFound):
    code = "company.supplier_part_not_found"


class CompanyCodeTaken(Conflict):
    code = "company.code_taken"


class SupplierCodeTaken(Conflict):
    """The supplier already sells a part under that code."""

    code = "company.supplier_code_taken"


class NotASupplier(ValidationFailed):
    """Supplier parts (and purchase orders) need a company flagged as an active supplier."""

    code = "company.not_a_supplier"


class UnknownReference(ValidationFailed):
    """A body names a part or company that does not exist."""

    code = "company.unknown_reference"
