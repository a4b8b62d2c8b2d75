"""The string formats the embedded grammar writes beyond llama-cpp-python's own.

Before, ``format: email`` (``hostname``, ``ipv4``) was dropped and any string came back.
Each rule must write only strings of its format; it may leave some valid ones out.
"""

from __future__ import annotations

import ipaddress

import pytest

from llm_api.platform.embedded.string_formats import FORMATS
from tests.unit.platform.embedded.test_int_ranges import to_regex

VALID = {
    "email": ["a@example.com", "first.last+tag@mail.example.org", "x_1@a-b.co"],
    "hostname": ["example.com", "a.b.c", "x-1.example"],
    "ipv4": ["0.0.0.0", "127.0.0.1", "255.255.255.255", "10.20.30.40"],
}
INVALID = {
    "email": ["", "a", "@example.com", "a@", "a@b", ".a@b.c", "a..b@c.d", "a@-b.c", "a b@c.d",
              "a@b.c-", "a@b..c"],
    "hostname": ["", "a", "-a.b", "a-.b", "a..b", "a.b.", "a_b.c", "a." + "b" * 64],
    "ipv4": ["", "1.2.3", "256.1.1.1", "01.2.3.4", "1.2.3.4.5", "-1.2.3.4", "1.2.3.4 "],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_format_rule_accepts_valid_and_refuses_invalid_strings(name: str) -> None:
    pattern = to_regex(FORMATS[name])
    for text in VALID[name]:
        assert pattern.fullmatch(text), (name, text)
    for text in INVALID[name]:
        assert not pattern.fullmatch(text), (name, text)


def test_ipv4_rule_writes_exactly_the_decimal_octets() -> None:
    pattern = to_regex(FORMATS["ipv4"])
    for octet in range(-5, 300):
        for text in (f"{octet}.0.0.1", f"1.2.3.{octet}"):
            valid = 0 <= octet <= 255
            assert bool(pattern.fullmatch(text)) == valid, text
            if valid:
                ipaddress.IPv4Address(text)  # raises if Python disagrees
    assert not pattern.fullmatch("1.02.3.4")
