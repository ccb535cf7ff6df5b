"""``hydra/launcher=submitit_local``: hydra-submitit-launcher's schema, litexp's defaults.

Registered under the plugin's own name, so the command users know gets them: jobs run
``n_jobs`` at a time (each with ``cores // n_jobs`` torch threads, ``JobThreads``), and
submitit's files go to one folder, ``<sweep dir>/.submitit`` (the plugin's
``.submitit/%j`` left an empty ``%j`` folder behind). Importing the plugin's config
module first stores its entry; this one then replaces it (Hydra's plugin scan reads
``hydra_submitit_launcher`` before ``litexp_*``).
"""

from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf


@dataclass
class LitexpLocalQueueConf(LocalQueueConf):
    _target_: str = "hydra_plugins.litexp_submitit_local.litexp_submitit_local.LitexpLocalLauncher"
    # submitit's logs and pickles, all jobs in one folder (<job id>_0_log.out/.err)
    submitit_folder: str = "${hydra.sweep.dir}/.submitit"
    n_jobs: int = 2  # jobs at once (-1: one per core); each gets cores // n_jobs threads


ConfigStore.instance().store(
    group="hydra/launcher", name="submitit_local", node=LitexpLocalQueueConf, provider="litexp"
)
