"""Masking secret values in captured logs."""

from __future__ import annotations

from sandlot.worker.masking import Masker


def test_values_are_masked_wherever_they_appear() -> None:
    masker = Masker(["s3cr3t-value", "tok"])
    assert masker.mask("x s3cr3t-value y s3cr3t-values3cr3t-value") == "x *** y ******"
    assert masker.mask("tok is too short to mask") == "tok is too short to mask"


def test_a_value_containing_another_is_masked_whole() -> None:
    masker = Masker(["abcd", "abcdefgh"])
    assert masker.mask("[abcdefgh] [abcd]") == "[***] [***]"


def test_each_line_of_a_multiline_value_is_masked() -> None:
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----"
    masker = Masker([key])
    printed = "line one: MIIEvQIBADANBg\n" + key
    assert "MIIEvQIBADANBg" not in masker.mask(printed)
    assert "BEGIN" not in masker.mask(printed)


def test_no_values_mask_nothing() -> None:
    masker = Masker([])
    assert not masker
    assert masker.mask("anything") == "anything"


def test_a_value_cut_by_the_log_cap_is_masked_up_to_the_cut() -> None:
    masker = Masker(["0123456789abcdef"])
    note = "\n[sandlot: output truncated after 100 bytes]\n"
    assert masker.mask_cut("log 01234567" + note) == "log ***" + note
    assert masker.mask_cut("log 012" + note) == "log 012" + note  # too short to mean anything
    assert masker.mask_cut("log 0123 more" + note) == "log 0123 more" + note
    assert masker.mask_cut("no note 01234567") == "no note 01234567"
