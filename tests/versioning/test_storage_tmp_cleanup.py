"""A write the storage refuses, or one that fails half-way, leaves nothing in ``_tmp``."""

import pyarrow as pa
import pytest

from versioning.storage import TMP_DIR, Storage, StorageError

TABLE = pa.table({"block_number": [1, 2, 3]})


def tmp_files(root) -> list:
    folder = root / TMP_DIR
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("location", ["../outside/part.parquet", "/absolute/part.parquet"])
def test_a_refused_location_writes_no_temporary_file(tmp_path, location):
    storage = Storage((tmp_path / "lake").as_uri())
    storage.write_table("ok/part.parquet", TABLE)  # the temporary folder exists from here on
    with pytest.raises(StorageError):
        storage.write_table(location, TABLE)
    assert tmp_files(tmp_path / "lake") == []


def test_a_failed_move_removes_its_temporary_file(tmp_path, monkeypatch):
    storage = Storage((tmp_path / "lake").as_uri())
    storage.write_table("ok/part.parquet", TABLE)

    class MoveFails:
        """The real filesystem, except that the final move fails (a full disk, a lost bucket)."""

        def __init__(self, fs):
            self.fs = fs

        def __getattr__(self, name):
            return getattr(self.fs, name)

        def move(self, *args):
            raise OSError("disk full")

    monkeypatch.setattr(storage, "fs", MoveFails(storage.fs))
    with pytest.raises(OSError):
        storage.write_table("later/part.parquet", TABLE)
    assert tmp_files(tmp_path / "lake") == []
    assert storage.exists("ok/part.parquet") and not storage.exists("later/part.parquet")
