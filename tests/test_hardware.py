"""The NVML check Lightning turns on is turned off only where no GPU can be forked from."""

from __future__ import annotations

import os

import lightning  # noqa: F401  (sets PYTORCH_NVML_BASED_CUDA_CHECK=1, as in every run)
import pytest
import torch

from litexp.hardware import NVML_CHECK, skip_nvml_check_without_gpu


@pytest.mark.skipif(torch.cuda.is_available(), reason="the case of a machine without a GPU")
def test_without_a_gpu_the_per_step_nvml_check_goes(monkeypatch) -> None:
    monkeypatch.setenv(NVML_CHECK, "1")
    assert skip_nvml_check_without_gpu() is True
    assert NVML_CHECK not in os.environ
    assert torch.cuda.is_available() is False  # torch's own (cached) answer, still right
    assert skip_nvml_check_without_gpu() is False  # nothing left to do


def test_with_a_gpu_the_check_stays(monkeypatch) -> None:
    monkeypatch.setenv(NVML_CHECK, "1")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: True)
    assert skip_nvml_check_without_gpu() is False
    assert os.environ[NVML_CHECK] == "1"


def test_a_user_setting_other_than_1_is_left_alone(monkeypatch) -> None:
    monkeypatch.setenv(NVML_CHECK, "0")
    assert skip_nvml_check_without_gpu() is False
    assert os.environ[NVML_CHECK] == "0"
