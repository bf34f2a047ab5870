"""gcp-storage-emulator with GCS's generation preconditions, as a script.

The emulator ignores ``ifGenerationMatch`` on uploads and deletes, which
real GCS honours (412 Precondition Failed) and the commit's lease relies on
(``if_generation_match=0``: create only if absent). This wraps the
emulator's upload and delete handlers with that check before its server
module is imported, then starts it with the same arguments as
``python -m gcp_storage_emulator``.
"""
from __future__ import annotations

import sys
from http import HTTPStatus

from gcp_storage_emulator.exceptions import NotFound
from gcp_storage_emulator.handlers import objects


def _generation_matches(request, storage, bucket: str, name: str) -> bool:
    wanted = request.query.get("ifGenerationMatch")
    if not wanted:
        return True
    try:
        current = str(storage.get_file_obj(bucket, name)["generation"])
    except NotFound:
        current = "0"  # GCS: 0 means "no live object"
    return current == wanted[0]


def _upload_name(request):
    if "name" in request.query:
        return request.query["name"][0]
    data = request.data if isinstance(request.data, dict) else {}
    return (data.get("meta") or data).get("name")


def _checked(handler, name_of):
    def wrapped(request, response, storage, *args, **kwargs):
        name = name_of(request)
        if name and not _generation_matches(request, storage,
                                            request.params["bucket_name"], name):
            response.status = HTTPStatus.PRECONDITION_FAILED
            response.json({"error": {"code": 412, "message": "conditionNotMet"}})
            return None
        return handler(request, response, storage, *args, **kwargs)
    return wrapped


objects.insert = _checked(objects.insert, _upload_name)
objects.delete = _checked(objects.delete, lambda request: request.params.get("object_id"))

if __name__ == "__main__":
    from gcp_storage_emulator.__main__ import main
    main(sys.argv[1:])
