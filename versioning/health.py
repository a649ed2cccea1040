"""The lake's readiness check for ``/readyz`` (registered with ``platform_site.health`` from the
app's ``ready()``): the lake's root, or its bucket, exists."""

from __future__ import annotations

import pyarrow.fs as pafs

from .storage import lake


def check_storage() -> None:
    storage = lake()
    # The root of a file lake, or the bucket of an S3 lake: one stat, no listing.
    target = storage.root if isinstance(storage.fs, pafs.LocalFileSystem) else storage.root.split("/")[0]
    if storage.fs.get_file_info(target).type == pafs.FileType.NotFound:
        raise RuntimeError("the lake's root does not exist")
