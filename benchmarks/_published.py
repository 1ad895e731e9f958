"""What the converters of published measurements (import_vidur.py, import_liger.py) share: reading
a mirrored git directory, and a command line that writes the rows as measurement CSVs."""
from __future__ import annotations

import argparse
import subprocess
from pathlib import Path
from typing import Callable, Optional

from roofsim.cli.output import csv_text, write_output
from roofsim.errors import OutputError, RoofsimError
from roofsim.measure.records import columns_of


def git(mirror: Path, *args: str) -> str:
    """stdout of ``git --git-dir MIRROR ARGS`` (raises CalledProcessError)."""
    return subprocess.run(["git", "--git-dir", str(mirror), *args], check=True, capture_output=True,
                          text=True).stdout


def main(doc: str, repo: str, files: Callable[[argparse.Namespace], dict], argv: Optional[list] = None,
         extra: Callable[[argparse.ArgumentParser], None] = lambda p: None) -> None:
    """Parse ``mirror out_dir`` (and ``extra`` options), write every file of ``files(args)``
    (file name -> rows) into out_dir; a bad mirror or folder is one line and exit status 2."""
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("mirror", type=Path, help=f"a git directory of {repo}")
    p.add_argument("out_dir", type=Path, help="the folder the CSVs go to")
    extra(p)
    args = p.parse_args(argv)
    try:
        for name, rows in files(args).items():
            path = args.out_dir / name
            write_output(path, csv_text(rows, columns_of(rows)))
            print(f"{path}: {len(rows)} rows")
    except subprocess.CalledProcessError as e:
        p.error(f"{args.mirror}: not a git directory of {repo} ({e.stderr.strip().splitlines()[-1]})")
    except OutputError as e:
        p.error(f"{e.path}: cannot write: {e.reason}")
    except RoofsimError as e:
        p.error(str(e))
