import pytest

from eeea.errors import UserError
from eeea.units import format_count, parse_count


@pytest.mark.parametrize(
    "text, value",
    [("72k", 72_000), ("3.5M", 3_500_000), ("600M", 600_000_000), ("1.2G", 1_200_000_000), ("5m", 5_000_000),
     ("10806", 10_806), (" 72K ", 72_000), ("1e3", 1000), ("1_000", 1000), (".5k", 500), (3, 3)],
)
def test_parse_count(text, value):
    assert parse_count(text) == value


@pytest.mark.parametrize("text", ["72q", "", "k", "-5M", "M5", "3.5.1M", "nan", True])
def test_parse_count_rejects_with_the_flag_named(text):
    with pytest.raises(UserError, match=r"^--max-params: .* is not a number like 72k or 3.5M|must be a finite"):
        parse_count(text, "--max-params")


def test_format_count():
    assert format_count(1_769_230) == "1.77M"
    assert format_count(10_806) == "10.8k"
    assert format_count(563_139_216) == "563M"
    assert format_count(12) == "12"
