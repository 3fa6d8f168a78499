"""The wheel carries what a checkout builds: the compiled gettext catalogs (.mo, build output
that is not committed) and the example config (`dialogbot` falls back to it, bot/app/config.py).
Everything else is in pyproject.toml."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithCatalogs(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the source tree (make locales compiles there)
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        target = Path(self.build_lib)
        for po in sorted((ROOT / "bot" / "locales").glob("*/LC_MESSAGES/messages.po")):
            mo = target / po.relative_to(ROOT).with_suffix(".mo")
            mo.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as source:
                catalog = read_po(source, locale=po.parent.parent.name)
            with mo.open("wb") as out:
                write_mo(out, catalog)
        example = "config.example.toml"
        shutil.copyfile(ROOT / example, target / "bot" / "app" / example)


setup(cmdclass={"build_py": BuildWithCatalogs})
