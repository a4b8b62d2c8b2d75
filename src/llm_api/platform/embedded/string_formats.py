"""GBNF for the string ``format``s clients send that llama-cpp-python's converter lacks.

Its converter writes ``date``, ``time``, ``date-time`` and ``uuid``; ``email``,
``hostname`` and ``ipv4`` (which OpenAI's strict mode also lists) were plain strings.
Each rule here writes a subset of its format, never a string outside it: an email is
dot-separated atoms of letters, digits and ``_+-``, then ``@`` and a hostname; a hostname
is at least two labels of at most 63 letters, digits and inner hyphens; an IPv4 address
is four decimal octets without leading zeros. Other formats are refused by the caller.
"""

from __future__ import annotations

from llm_api.platform.embedded.int_ranges import integer_range

_LABEL = "[a-zA-Z0-9] ([a-zA-Z0-9-]{0,61} [a-zA-Z0-9])?"
_HOSTNAME = f'{_LABEL} ("." {_LABEL}){{1,8}}'
_ATOM = "[a-zA-Z0-9_+-]{1,32}"
_OCTET = f"({integer_range(0, 255)})"

#: the text between the quotes, per format
FORMATS = {
    "email": f'{_ATOM} ("." {_ATOM}){{0,4}} "@" {_HOSTNAME}',
    "hostname": _HOSTNAME,
    "ipv4": " ".join([_OCTET, '"."', _OCTET, '"."', _OCTET, '"."', _OCTET]),
}
