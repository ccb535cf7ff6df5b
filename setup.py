"""The package list: src/ as usual, plus the top-level conf/ shipped as ``litexp/conf``.

Everything else is in pyproject.toml. conf/ stays where a clone's user looks for it; a
wheel gets a build-time copy inside the package, found by ``litexp.packaging.conf_dir``.
"""

from setuptools import find_namespace_packages, setup

# conf/ and its group folders (model, data, hydra/launcher, ...) hold only YAML files.
CONF = ["litexp.conf", *(f"litexp.conf.{group}" for group in find_namespace_packages("conf"))]

setup(
    packages=[*find_namespace_packages("src", include=["litexp*", "hydra_plugins*"]), *CONF],
    package_dir={"": "src", "litexp.conf": "conf"},
    package_data={package: ["*.yaml"] for package in CONF},
)
