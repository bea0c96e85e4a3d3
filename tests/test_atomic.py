import pytest

from mnist_utils.atomic import atomic_path


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "results.jsonl"
    write_text(target, "old\n")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half of the new cont")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.jsonl"]


def test_successful_write_replaces_and_creates_folders(tmp_path):
    target = tmp_path / "a" / "b" / "file.txt"
    write_text(target, "one")
    write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["file.txt"]


def test_written_files_get_the_usual_permissions(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        write_text(tmp_path / "figure.txt", "x")
    finally:
        os.umask(mask)
    assert (tmp_path / "figure.txt").stat().st_mode & 0o777 == 0o644
