"""One integer validator, one "first line of an error", one place that puts ``model.`` /
``data.`` before a key: what each gives, and that no copy has come back."""

from __future__ import annotations

import re

import pytest

from litexp.checks import fraction, positive_int, positive_ints
from litexp.config import in_group
from litexp.errors import ConfigError, first_line
from tests.conftest import ROOT

SRC = ROOT / "src" / "litexp"
# The hand-written checks and helpers the shared ones replaced.
COPIES = {
    r"isinstance\(\w+, bool\) or not isinstance\(\w+, int\)": "litexp.checks.positive_int",
    r"splitlines\(\)\[0\]": "litexp.errors.first_line",
    r"def _?first_line|def _first\b": "litexp.errors.first_line",
    r'f"(model|data)\.\{err': "litexp.config.in_group",
    r"not 0 <= dropout < 1": "litexp.checks.fraction",
}


def test_no_copy_of_the_shared_checks_is_left_in_src() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}: use {use}"
        for path in sorted(SRC.rglob("*.py"))
        if path.name not in ("checks.py", "errors.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        for pattern, use in COPIES.items()
        if re.search(pattern, line)
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "3", None])
def test_positive_int_names_the_key_and_the_bound(value: object) -> None:
    with pytest.raises(ValueError, match=r"^batch_size=.* is invalid: must be an integer >= 1$"):
        positive_int("batch_size", value)


def test_positive_int_for_whole_run_keys_is_a_config_error_with_its_exceptions() -> None:
    positive_int("trainer.max_epochs", -1, also=(-1,), error=ConfigError)
    with pytest.raises(ConfigError, match=r"max_epochs=0 is invalid: .* >= 1 or -1$"):
        positive_int("trainer.max_epochs", 0, also=(-1,), error=ConfigError)


def test_positive_ints_and_fraction() -> None:
    assert positive_ints("channels", (16, 32), "e.g. [16, 32]") == [16, 32]
    for bad in ([], [16, 0], [True], [1.0]):
        with pytest.raises(ValueError, match=r"^channels=.* is invalid: e.g. \[16, 32\]$"):
            positive_ints("channels", bad, "e.g. [16, 32]")
    fraction("dropout", 0)
    with pytest.raises(ValueError, match=r"val_fraction=0 is invalid: .* \(0, 1\)"):
        fraction("val_fraction", 0, allow_zero=False)
    with pytest.raises(ValueError, match=r"dropout=1.5 is invalid: .* \[0, 1\)"):
        fraction("dropout", 1.5)


def test_first_line_is_the_first_words_a_user_reads() -> None:
    assert first_line(RuntimeError("\n  boom at step 14 \ntraceback ...")) == "boom at step 14"
    assert first_line(KeyError()) == "KeyError"  # never an empty reason after "...: "
    assert first_line(KeyError(), default="") == ""
    assert first_line("x" * 500, 200) == "x" * 200
    assert first_line(None) == ""


def test_in_group_prefixes_a_key_or_names_the_group() -> None:
    assert in_group("model", "dropout=1.5 is invalid") == "model.dropout=1.5 is invalid"
    assert in_group("data", "cannot read x") == "data: cannot read x"
