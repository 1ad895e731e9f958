"""--output never harms what a path names: symlinks, devices and FIFOs are written through,
regular files atomically with the umask's mode, and a bad destination is one line, exit 2."""
import os
import stat
import threading

import pytest
from click.testing import CliRunner

from roofsim.cli import main
from roofsim.cli.output import write_output
from roofsim.errors import OutputError

RUN = ("run", "--hw", "a100", "--workload", "dlrm", "--format", "csv")


def invoke(*args):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_new_file_respects_the_umask(tmp_path, umask022):
    out = tmp_path / "r.csv"
    r = invoke(*RUN, "--output", str(out))
    assert r.exit_code == 0, r.output
    # 0666 & ~022 = 0644, as any new file (tempfile's 0600 was the bug)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert out.read_text().startswith("hardware,workload,op,")
    assert os.listdir(tmp_path) == ["r.csv"]  # no temporary file left


def test_existing_file_keeps_its_mode(tmp_path, umask022):
    out = tmp_path / "r.txt"
    out.write_text("old\n")
    out.chmod(0o640)
    write_output(out, "new")
    assert out.read_text() == "new\n" and stat.S_IMODE(out.stat().st_mode) == 0o640


def test_symlink_stays_a_link_and_its_target_is_written(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    r = invoke(*RUN, "--output", str(link))
    assert r.exit_code == 0, r.output
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text().startswith("hardware,workload,op,")
    assert sorted(os.listdir(tmp_path)) == ["link.csv", "real.csv"]


def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "made.txt")
    write_output(link, "x")
    assert link.is_symlink() and (tmp_path / "made.txt").read_text() == "x\n"


def test_dev_null_stays_a_character_device():
    # run as root, the old rename replaced /dev/null with a regular file
    r = invoke(*RUN, "--output", os.devnull)
    assert r.exit_code == 0, r.output
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_fifo_is_written_through(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()))
    reader.start()
    write_output(fifo, "through the pipe")
    reader.join(10)
    assert got == ["through the pipe\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and os.listdir(tmp_path) == ["pipe"]


@pytest.mark.parametrize("make,message", [
    (lambda d: d / "missing" / "r.csv", "cannot write: no such folder"),
    (lambda d: d, "cannot write: a folder"),
    (lambda d: (d / "plain").write_text("") or d / "plain" / "r.csv", "cannot write: no such folder"),
])
def test_bad_destination_is_one_line_before_any_work(tmp_path, make, message):
    path = make(tmp_path)
    before = sorted(os.listdir(tmp_path))
    r = invoke(*RUN, "--output", str(path))
    assert r.exit_code == 2 and r.output.count("\n") == 1, r.output
    assert r.output.startswith(f"error: --output {path}: {message}")
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a 0500 folder")
def test_unwritable_folder_is_one_line(tmp_path):
    d = tmp_path / "ro"
    d.mkdir(mode=0o500)
    r = invoke(*RUN, "--output", str(d / "r.csv"))
    assert r.exit_code == 2 and r.output == f"error: --output {d / 'r.csv'}: cannot write: folder {str(d)!r} is not writable\n"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_a_folder_even_root_cannot_write_is_one_line():
    # /proc takes no new files, whatever the user: the unwritable-folder case as root too
    r = invoke(*RUN, "--output", "/proc/roofsim-out.csv")
    assert r.exit_code == 2 and r.output.count("\n") == 1, r.output
    assert r.output.startswith("error: --output /proc/roofsim-out.csv: cannot write: ")
    assert not os.path.exists("/proc/roofsim-out.csv")


def test_a_failing_write_leaves_nothing_and_the_old_file_intact(tmp_path, monkeypatch):
    # a full disk (or a folder that root cannot write, e.g. on a read-only mount) fails in
    # fsync/write: the old file must survive and no temporary file stay behind
    out = tmp_path / "r.txt"
    out.write_text("old\n")

    def full_disk(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OutputError, match=r"cannot write: no space left on device$"):
        write_output(out, "new")
    assert out.read_text() == "old\n" and os.listdir(tmp_path) == ["r.txt"]


def test_a_descriptor_path_is_appended_to_not_replaced(tmp_path):
    # `--output /dev/stdout` into a pipe failed (the pipe has no path to rename onto); into a
    # shell redirection (`>> log`) the log would have been swapped for a new file
    r, w = os.pipe()
    write_output(f"/dev/fd/{w}", "through a pipe")
    os.close(w)
    assert os.read(r, 100) == b"through a pipe\n"
    os.close(r)
    log = tmp_path / "log.txt"
    log.write_text("kept\n")
    inode = log.stat().st_ino
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    try:
        write_output(f"/proc/self/fd/{fd}", "appended")
    finally:
        os.close(fd)
    assert log.read_text() == "kept\nappended\n" and log.stat().st_ino == inode
    assert os.listdir(tmp_path) == ["log.txt"]


def test_long_file_names_get_a_temporary_name_that_fits(tmp_path):
    # a 250-byte name is legal; the temporary name beside it must stay under 255 bytes too
    out = tmp_path / ("r" * 250)
    write_output(out, "x")
    assert out.read_text() == "x\n" and os.listdir(tmp_path) == [out.name]
