"""The function library of Go-template forms: Sprig v3.3.0 and Lynq's own functions.

Lynq's engine (``internal/template/engine.go``) registers ``sprig.TxtFuncMap()`` and then its
own ``toHost``, ``trunc63``, ``sha1sum``, ``fromJson``, ``int``, ``float`` and ``bool`` over
Sprig's. ``SPRIG`` is that map minus the functions whose result is not a function of their
arguments; those are in ``REJECTED`` with the reason and what to use instead, so the engine
can refuse a form that calls one with a message that helps.

Calling convention (the engine's, agreed): positional arguments in Go order, the piped value
last (``{{ .s | trunc 5 }}`` is ``SPRIG["trunc"](5, s)``); Go values as Python values (see
``sprig_values``). A function that refuses its input raises ``FunctionError`` with a
one-sentence cause; one that would grow a value past ``limits.MAX_RESULT`` raises
``limits.LimitExceeded`` before it allocates. ``semver`` returns a ``SemVersion`` whose
fields are Go's method names (``.Major``).

Where the result differs from Lynq's, on purpose:

- lengths and offsets count characters, not UTF-8 bytes (``trunc``, ``substr``, ``wrap``);
- ``keys`` and ``values`` follow sorted keys (Go's map order is random);
- ``b64dec``/``b32dec`` of invalid input and an invalid regular expression are errors, not
  Go's error text as the value or ``false``;
- every integer is Go's ``int`` to ``typeOf``/``kindOf`` (Python has one integer type) and
  every list ``[]interface {}``;
- ``toJson`` of NaN or an infinity is an error, not an empty string.

The modules are split by subject: ``sprig_text`` (strings, regular expressions, encodings,
hashes), ``sprig_data`` (defaults, lists, dicts, JSON, types), ``sprig_numbers``,
``sprig_paths`` (paths, URLs) and ``sprig_semver``. All are pure: no clock, no randomness, no
environment, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

from lynq_bridge.core.sprig_data import DATA_FUNCTIONS
from lynq_bridge.core.sprig_numbers import NUMBER_FUNCTIONS
from lynq_bridge.core.sprig_paths import PATH_FUNCTIONS
from lynq_bridge.core.sprig_semver import SEMVER_FUNCTIONS, SemVersion
from lynq_bridge.core.sprig_text import TEXT_FUNCTIONS
from lynq_bridge.core.sprig_values import FunctionError

__all__ = ["REJECTED", "SPRIG", "FunctionError", "SemVersion"]

_COLUMN: Final = "add a column to the hub's query and map it with extraValueMappings"
_CLOCK: Final = (
    "reads the clock or the machine's time zone, so every sync would render a different "
    "value; compute the time in SQL, " + _COLUMN
)
_DATE_OF_TEXT: Final = (
    "depends on the machine's time zone (and on the clock for any input that is not a time, "
    "which a row value never is); format the date in SQL, " + _COLUMN
)
_RANDOM: Final = (
    "returns a new random value on every render, so every sync would change the object; "
    "generate the value once and store it, then " + _COLUMN
)
_SECRET: Final = (
    "would write secret material into the Git repository in clear text; keep secrets out of "
    "Git (a Secret created by SealedSecrets, External Secrets or cert-manager) and reference "
    "it by name"
)
_RANDOM_SECRET: Final = (
    "generates a new random key or salt on every render and would write it into Git; let "
    "cert-manager or an External Secrets generator create it and reference the Secret by name"
)
_ENVIRONMENT: Final = (
    "reads the bridge's own environment, which differs between machines and is not "
    "the tenant's data; " + _COLUMN
)

REJECTED: Final[Mapping[str, str]] = MappingProxyType(
    {
        "now": _CLOCK,
        "ago": _CLOCK,
        "date": _DATE_OF_TEXT,
        "date_in_zone": _DATE_OF_TEXT,
        "dateInZone": _DATE_OF_TEXT,
        "date_modify": _DATE_OF_TEXT,
        "dateModify": _DATE_OF_TEXT,
        "must_date_modify": _DATE_OF_TEXT,
        "mustDateModify": _DATE_OF_TEXT,
        "htmlDate": _DATE_OF_TEXT,
        "htmlDateInZone": _DATE_OF_TEXT,
        "toDate": _DATE_OF_TEXT,
        "mustToDate": _DATE_OF_TEXT,
        "unixEpoch": _DATE_OF_TEXT,
        "randAlphaNum": _RANDOM,
        "randAlpha": _RANDOM,
        "randAscii": _RANDOM,
        "randNumeric": _RANDOM,
        "randBytes": _RANDOM,
        "randInt": _RANDOM,
        "uuidv4": _RANDOM,
        "shuffle": _RANDOM,
        "env": _ENVIRONMENT,
        "expandenv": _ENVIRONMENT,
        "getHostByName": (
            "asks DNS at render time, so the result changes with the network; resolve the "
            "address outside the template, " + _COLUMN
        ),
        "bcrypt": _RANDOM_SECRET,
        "htpasswd": _RANDOM_SECRET,
        "genPrivateKey": _RANDOM_SECRET,
        "genCA": _RANDOM_SECRET,
        "genCAWithKey": _RANDOM_SECRET,
        "genSelfSignedCert": _RANDOM_SECRET,
        "genSelfSignedCertWithKey": _RANDOM_SECRET,
        "genSignedCert": _RANDOM_SECRET,
        "genSignedCertWithKey": _RANDOM_SECRET,
        "encryptAES": _RANDOM_SECRET,
        "derivePassword": _SECRET,
        "decryptAES": _SECRET,
        "buildCustomCert": _SECRET,
    }
)
"""Lynq's functions a form may not call, by name: why, and what to do instead."""


def _hello() -> str:
    return "Hello!"


SPRIG: Final[Mapping[str, Callable[..., object]]] = MappingProxyType(
    {
        "hello": _hello,
        **TEXT_FUNCTIONS,
        **NUMBER_FUNCTIONS,
        **DATA_FUNCTIONS,
        **PATH_FUNCTIONS,
        **SEMVER_FUNCTIONS,
    }
)
"""Every deterministic function a Lynq form can call, by its Go template name."""
