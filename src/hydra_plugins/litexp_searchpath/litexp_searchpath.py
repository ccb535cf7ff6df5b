"""litexp's config groups stay on Hydra's search path whatever folder is primary.

``litexp train -cd ./myconf`` keeps litexp's folder primary on its own (Hydra puts
``-cd`` ahead of it); this plugin is for the cases that replace the primary folder:
``litexp train -cp /abs/myconf`` with no ``train.yaml`` there, or a user's own
``@hydra.main(config_path="myconf")`` whose defaults name litexp's groups
(``model: cnn``, ``trainer: default``). Appended last, so any folder of the user's
wins a name both define.
"""

from __future__ import annotations

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from litexp.packaging import conf_dir


class LitexpSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        folder = str(conf_dir())
        present = {e.path.removeprefix("file://") for e in search_path.get_path() if e.path}
        if folder not in present:  # litexp's own commands have it as their primary folder
            search_path.append(provider="litexp", path=f"file://{folder}")
