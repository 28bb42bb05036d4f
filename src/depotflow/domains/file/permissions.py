"""Permission slugs of the file domain."""

VIEW = "file.view"
UPLOAD = "file.upload"
DELETE = "file.delete"

CATALOGUE = {
    VIEW: "See stored files and download their content",
    UPLOAD: "Upload files to the shared file store",
    DELETE: "Delete stored files (the record is kept, marked deleted)",
}
