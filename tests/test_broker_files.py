"""The embedded broker of `make run` (kombu's file-system transport) keeps every file it
writes under VAR_DIR: its default would put the exchanges' table in ./control, inside the
checkout, where it was once committed by mistake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_folder_of_the_embedded_broker_is_under_var_dir(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
    env["VAR_DIR"] = str(tmp_path)
    read = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.CELERY_BROKER_TRANSPORT_OPTIONS))"
    )
    out = subprocess.run(
        [sys.executable, "-c", read], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    options = json.loads(out.strip().splitlines()[-1])
    folders = {k: v for k, v in options.items() if k.endswith("_folder") or "folder_" in k}
    assert set(folders) == {
        "data_folder_in",
        "data_folder_out",
        "processed_folder",
        "control_folder",
    }
    assert all(Path(path).is_relative_to(tmp_path / "broker") for path in folders.values())
    assert all(Path(path).is_dir() for path in folders.values())
