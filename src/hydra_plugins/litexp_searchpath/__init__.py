"""Hydra search-path plugin: litexp's config groups in every Hydra application."""
