"""Adds the Copier template to the wheel: copier.yml, template/, partials/ and schema/
are copied into the package as bluegreen/_template, read through importlib.resources
(bluegreen.resources). Everything else about the build is in pyproject.toml."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
TEMPLATE_PARTS = ("copier.yml", "template", "partials", "schema")


class BuildWithTemplate(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return  # an editable install reads the checkout itself
        target = Path(self.build_lib) / "bluegreen" / "_template"
        for name in TEMPLATE_PARTS:
            source = ROOT / name
            files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
            for path in files:
                if "__pycache__" in path.parts:
                    continue
                destination = target / path.relative_to(ROOT)
                self.mkpath(str(destination.parent))
                self.copy_file(str(path), str(destination))


setup(cmdclass={"build_py": BuildWithTemplate})
