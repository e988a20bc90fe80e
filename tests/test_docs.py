"""README stays true: every setting the code reads is documented, and the two commands lead it."""
from __future__ import annotations

from pathlib import Path

from hotline.config import Config

README = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")


def test_every_environment_variable_is_documented():
    missing = [name for name, _kind in Config.ENV.values() if f"`{name}`" not in README]
    assert not missing, f"README.md does not document: {missing}"


def test_readme_starts_with_the_two_commands():
    head = README[:800]
    assert "make run" in head and "make test" in head


def test_procfile_processes_are_documented():
    procfile = (Path(__file__).resolve().parent.parent / "Procfile").read_text()
    for line in procfile.splitlines():
        name = line.split(":", 1)[0]
        assert f"`{name}`" in README, name
