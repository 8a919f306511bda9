"""Storage's errors, named as Supabase Storage names them (`error` in its `{statusCode, error, message}`
body), so storage3 and storage-js raise what they raise against Supabase."""

from __future__ import annotations

from gardenos.errors import GardenError


class StorageError(GardenError):
    status_code = 400
    code = "GARDEN400"
    storage_error = "InvalidRequest"


class InvalidKey(StorageError):
    storage_error = "InvalidKey"


class BucketNotFound(StorageError):
    status_code = 404
    code = "GARDEN404"
    storage_error = "Bucket not found"


class ObjectNotFound(StorageError):
    status_code = 404
    code = "GARDEN404"
    storage_error = "not_found"


class Duplicate(StorageError):
    status_code = 409
    code = "GARDEN409"
    storage_error = "Duplicate"


class BucketNotEmpty(StorageError):
    status_code = 409
    code = "GARDEN409"
    storage_error = "InvalidRequest"


class EntityTooLarge(StorageError):
    status_code = 413
    code = "GARDEN413"
    storage_error = "Payload too large"


class InvalidMimeType(StorageError):
    status_code = 415
    code = "GARDEN415"
    storage_error = "invalid_mime_type"


class InvalidSignature(StorageError):
    status_code = 400
    storage_error = "InvalidSignature"


class RangeNotSatisfiable(StorageError):
    status_code = 416
    code = "GARDEN416"
    storage_error = "InvalidRange"


class UploadNotFound(StorageError):
    status_code = 404
    code = "GARDEN404"
    storage_error = "not_found"


class UploadGone(StorageError):
    """A resumable upload that expired (or whose staged bytes are gone): it cannot be resumed."""

    status_code = 410
    code = "GARDEN410"
    storage_error = "Gone"


class OffsetMismatch(StorageError):
    status_code = 409
    code = "GARDEN409"
    storage_error = "Conflict"


class UploadLocked(StorageError):
    """Another request is writing this resumable upload now (or did until its process died)."""

    status_code = 423
    code = "GARDEN423"
    storage_error = "Locked"
    retry_after_s = 5


class TusVersionUnsupported(StorageError):
    status_code = 412
    code = "GARDEN412"
    storage_error = "Precondition Failed"


class StorageUnavailable(StorageError):
    """The object storage service (S3) failed or did not answer: nothing was stored, try again."""

    status_code = 503
    code = "GARDEN503"
    storage_error = "Service Unavailable"
    retry_after_s = 5


def object_not_found() -> ObjectNotFound:
    return ObjectNotFound("Object not found")


def bucket_not_found() -> BucketNotFound:
    return BucketNotFound("Bucket not found")


class InvalidTransform(StorageError):
    """Transformation options (width, height, resize, quality, format) that are not valid."""

    storage_error = "InvalidParameter"


class ImageNotTransformable(StorageError):
    """The object is not an image GardenOS can transform, or one too large or broken to decode."""

    storage_error = "InvalidRequest"


class TransformUnavailable(StorageError):
    """Every transformation slot stayed busy, or the image took too long: nothing is wrong with the
    request, try again."""

    status_code = 503
    code = "GARDEN503"
    storage_error = "Service Unavailable"
    retry_after_s = 5


def upload_not_found() -> UploadNotFound:
    return UploadNotFound("Upload not found: no upload in progress has this id for you; create a new one")


def upload_gone() -> UploadGone:
    return UploadGone(
        "the upload's stored bytes are gone (it expired or was removed); create a new upload and send the "
        "file again"
    )
