"""pipelines.ingest.normalise on its own: what a clerk types → the typed value, or the error code
that rejects it. A blank cell stays blank (None, not reported) for every field type — never 0."""
from __future__ import annotations

import datetime as dt
import math

import pytest

from pipelines.ingest.normalise import (
    clean_text,
    header_key,
    is_blank,
    normalise,
    to_bool,
    to_code,
    to_date,
    to_enum,
    to_int,
    to_number,
    to_text,
)

JULY_5 = dt.date(2024, 7, 5)
FIELD_TYPES = ("int", "number", "bool", "enum", "date", "code", "text")


# ------------------------------------------------------------------ blank

@pytest.mark.parametrize("field_type", FIELD_TYPES)
@pytest.mark.parametrize("blank", [None, "", "   ", "\n", "\u3000", float("nan")], ids=repr)
def test_a_blank_stays_blank_for_every_type(field_type, blank):
    assert normalise(blank, field_type, choices=["是", "否"]) == (None, None)


@pytest.mark.parametrize("value", [0, 0.0, "0", "０"])
def test_zero_is_a_value_not_a_blank(value):
    assert not is_blank(value)
    assert normalise(value, "int") == (0, None)
    assert normalise(value, "number") == (0.0, None)


# ------------------------------------------------------------------ numbers

@pytest.mark.parametrize("raw, expected", [
    (1234, 1234.0),
    (12.5, 12.5),
    ("1234", 1234.0),                  # a number stored as text
    ("1,234", 1234.0),                 # thousands separator
    ("1,234,567.5", 1234567.5),
    (" 1,234 ", 1234.0),               # stray spaces
    ("1 234", 1234.0),                 # a space inside
    ("１２３", 123.0),                  # full-width digits
    ("１，２３４", 1234.0),              # full-width digits and comma
    ("\u3000５６\u3000", 56.0),          # full-width spaces
    ("-3", -3.0),                      # the sign is kept; bounds are checked by ingest, not here
    ("12.50", 12.5),
])
def test_numbers(raw, expected):
    assert to_number(raw) == (expected, None)
    assert normalise(raw, "number") == (expected, None)


def test_a_unit_suffix_is_dropped_only_for_the_field_unit():
    assert to_number("35张", "张") == (35.0, None)
    assert to_number("35 张", "张") == (35.0, None)
    assert to_number("35张") == (None, "ING010")
    assert to_number("35人", "张") == (None, "ING010")


@pytest.mark.parametrize("raw", ["abc", "1,23", "12,3456", "1.2.3", "nan", "inf", "-inf", "十二", True, False,
                                 JULY_5, dt.datetime(2024, 7, 5, 8, 0)], ids=repr)
def test_numbers_rejected(raw):
    assert to_number(raw) == (None, "ING010")
    assert normalise(raw, "int") == (None, "ING010")


@pytest.mark.parametrize("raw, expected", [(12, 12), (12.0, 12), ("12.0", 12), ("1,000", 1000), ("１２", 12)])
def test_integers(raw, expected):
    value, err = to_int(raw)
    assert (value, err) == (expected, None) and type(value) is int


@pytest.mark.parametrize("raw", [12.5, "12.5", "0.1"])
def test_fractions_are_not_integers(raw):
    assert to_int(raw) == (None, "ING011")


# ------------------------------------------------------------------ yes / no

@pytest.mark.parametrize("raw", ["是", "有", "Y", "y", "Ｙ", "yes", "YES", "TRUE", "true", "√", "✓", "✔", "1", "对",
                                 " 是 ", 1, 1.0, True])
def test_yes(raw):
    assert to_bool(raw) == (True, None)
    assert normalise(raw, "bool") == (True, None)


@pytest.mark.parametrize("raw", ["否", "无", "没有", "不是", "N", "n", "no", "FALSE", "×", "✗", "✘", "x", "X", "0",
                                 " 否\n", 0, 0.0, False])
def test_no(raw):
    assert to_bool(raw) == (False, None)
    assert normalise(raw, "bool") == (False, None)


@pytest.mark.parametrize("raw", ["可能", "是否", "2", 2, -1, "yes!", "有的"])
def test_yes_no_rejected(raw):
    assert to_bool(raw) == (None, "ING013")


# ------------------------------------------------------------------ enumerations

def test_enumerations_tolerate_spaces_and_full_width():
    choices = ["无", "区级", "市级", "国家级", "市级申报"]
    assert to_enum("市级", choices) == ("市级", None)
    assert to_enum(" 市 级 ", choices) == ("市级", None)
    assert to_enum("市级\n申报", choices) == ("市级申报", None)
    assert to_enum("省级", choices) == (None, "ING014")
    assert to_enum("市", choices) == (None, "ING014")
    assert normalise("国家级", "enum", choices=choices) == ("国家级", None)


# ------------------------------------------------------------------ dates

@pytest.mark.parametrize("raw", [
    JULY_5,
    dt.datetime(2024, 7, 5, 0, 0),
    dt.datetime(2024, 7, 5, 16, 30),    # a date cell with a time: the day counts
    45478,                              # an Excel serial
    45478.75,                           # a serial with a time of day
    "2024年7月5日",
    "2024 年 7 月 5 日",
    "２０２４年７月５日",
    "2024年7月5",
    "2024年07月05日",
    "2024.7.5",
    "2024/7/5",
    "2024-07-05",
    "2024-7-5",
    "20240705",
], ids=repr)
def test_dates(raw):
    assert to_date(raw) == (JULY_5, None)
    assert normalise(raw, "date") == (JULY_5, None)


def test_excel_serials_at_the_edges_of_the_accepted_range():
    assert to_date(20000) == (dt.date(1954, 10, 3), None)
    assert to_date(80000) == (dt.date(2119, 1, 11), None)


@pytest.mark.parametrize("raw", ["2024-02-30", "2024/13/1", "2024年7月", "7月5日", "2024.7", "tomorrow", "24/7/5",
                                 19999, 80001, -1, True], ids=repr)
def test_dates_rejected(raw):
    assert to_date(raw) == (None, "ING015")


# ------------------------------------------------------------------ codes and text

@pytest.mark.parametrize("raw", ["430703001001", 430703001001, 430703001001.0, "'430703001001", " 430703001001 ",
                                 "4307 0300 1001", "４３０７０３００１００１"], ids=repr)
def test_codes(raw):
    assert to_code(raw) == ("430703001001", None)


@pytest.mark.parametrize("raw", ["43070300100", "4307030010011", "43070300100A", 430703001001.5, "430703-001-001"],
                         ids=repr)
def test_codes_rejected(raw):
    assert to_code(raw) == (None, "ING017")


def test_text_is_trimmed_and_whole_numbers_lose_their_point():
    assert to_text(" 第1村备注 ") == ("第1村备注", None)
    assert to_text(12.0) == ("12", None)
    assert to_text(12.5) == ("12.5", None)
    assert normalise("  ", "text") == (None, None)


# ------------------------------------------------------------------ helpers

def test_clean_text_and_header_key():
    assert clean_text(None) == ""
    assert clean_text(5.0) == "5"
    assert clean_text(" （人） ") == "(人)"
    assert header_key("户籍人口\n(人)") == "户籍人口"
    assert header_key(" 户籍 人口（万人）") == "户籍人口"
    assert header_key("“三社联动”试点") == "三社联动试点"
    assert is_blank(math.nan) and is_blank(" \t") and not is_blank("否")
