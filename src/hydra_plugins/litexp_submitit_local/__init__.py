"""``hydra/launcher=submitit_local``, litexp's: at most ``n_jobs`` at once, one log folder."""
