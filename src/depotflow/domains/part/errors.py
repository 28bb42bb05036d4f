"""Errors of the part domain."""

from depotflow.core.errors import Conflict, NotFound, ValidationFailed


class PartNotFound(NotFound):
    code = "part.not_found"


class CategoryNotFound(NotFound):
    code = "part.category_not_found"


class UnitNotFound(NotFound):
    code = "part.unit_not_found"


class IpnTaken(Conflict):
    code = "part.ipn_taken"


class UnitCodeTaken(Conflict):
    code = "part.unit_code_taken"


class CategoryNameTaken(Conflict):
    code = "part.category_name_taken"


class CategoryInUse(Conflict):
    """A category with children or parts cannot be deleted."""

    code = "part.category_in_use"


class CategoryCycle(ValidationFailed):
    code = "part.category_cycle"


class UnknownReference(ValidationFailed):
    """A body names a unit or category that does not exist."""

    code = "part.unknown_reference"
