"""Errors of the file domain."""

from depotflow.core.errors import DepotflowError, NotFound, PayloadTooLarge, ValidationFailed


class FileNotFound(NotFound):
    code = "file.not_found"


class FileTooLarge(PayloadTooLarge):
    code = "file.too_large"


class EmptyFile(ValidationFailed):
    code = "file.empty"


class TypeNotAllowed(DepotflowError):
    status = 415
    title = "Unsupported Media Type"
    code = "file.type_not_allowed"


class TypeMismatch(TypeNotAllowed):
    """The bytes are of an allowed type, but the file name claims another one."""

    code = "file.type_mismatch"


class InvalidAttachment(ValidationFailed):
    code = "file.invalid_attachment"


class ContentMissing(DepotflowError):
    """A live record whose bytes are not in the store: data loss, never a client error."""

    status = 500
    title = "Internal Server Error"
    code = "file.content_missing"
