"""Credentials in Git URLs: split them off for Git, strip them for files, mask them for people.

A ``git.url`` may carry a secret in its user information, in every form the hosting services
document: ``https://TOKEN@host/x`` (a token as the user name), ``https://user:TOKEN@host/x``,
``https://TOKEN:x-oauth-basic@host/x``, the same with ``http``, ``ssh://user:pass@host/x`` and
percent-encoded (``p%40ss``). The bridge gives Git the URL without them (so they are in no argv
and in no file of the mirror) and hands the secret over through a credential helper reading the
environment; files get the URL without them (``strip_credentials``); messages and logs get
``mask_url``/``mask_credentials``, which also hide query parameters that look like tokens.

The user name of an SSH URL (``ssh://git@host/x``, ``git@host:x``) is an account, not a secret:
SSH needs it and it is kept. In every other scheme a lone user name may be a token and is
masked. This module is pure (no I/O) so that every writer and every message uses the same
rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

MASK: Final = "***"
# The user names SSH-based schemes carry are accounts, never secrets.
_SSH_SCHEMES: Final = frozenset({"ssh", "git+ssh", "ssh+git"})
# Passwords that mean "the user name is the token" (GitHub's token-as-user convention).
_PLACEHOLDER_PASSWORDS: Final = frozenset({"", "x-oauth-basic"})
_URL: Final = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<rest>.*)", re.DOTALL
)
# A URL inside free text (a Git error, an exception): up to the next white space.
_URL_IN_TEXT: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_SECRET_WORDS: Final = (
    r"[A-Za-z0-9_.-]*(?:token|password|passwd|secret|key|auth|sig)[A-Za-z0-9_.-]*"
)
# A query parameter whose name says it holds a secret (``access_token=``, ``private_token=``).
_TOKEN_PARAMETER: Final = re.compile(rf"(?P<name>[?&;]{_SECRET_WORDS}=)[^&;#\s]*", re.IGNORECASE)
_TOKEN_NAME: Final = re.compile(_SECRET_WORDS, re.IGNORECASE)


@dataclass(frozen=True)
class SplitURL:
    """A URL as Git gets it, and the credentials that were in it (percent-decoded)."""

    url: str
    username: str | None = None
    password: str | None = None

    @property
    def has_secret(self) -> bool:
        """True when the URL carried a password, or a user name in a scheme where that may be
        a token."""
        return self.password is not None or (self.username is not None and not _is_ssh(self.url))


def _is_ssh(url: str) -> bool:
    match = _URL.fullmatch(url)
    return match is not None and match["scheme"].lower() in _SSH_SCHEMES


def split_credentials(url: str) -> SplitURL:
    """``url`` without its credentials, and the user name and password it carried.

    An SSH URL keeps its user name (the account SSH logs in as); every other scheme loses the
    whole user information, which then reaches Git through a credential helper. A path,
    ``file://`` URL or scp-style ``git@host:path`` has no credentials and is returned as is.
    """
    match = _URL.fullmatch(url)
    if match is None or "@" not in match["authority"]:
        return SplitURL(url)
    userinfo, _, host = match["authority"].rpartition("@")
    raw_user, colon, raw_password = userinfo.partition(":")
    username = unquote(raw_user) or None
    password = unquote(raw_password) if colon else None
    scheme = match["scheme"]
    keep_user = scheme.lower() in _SSH_SCHEMES and raw_user
    authority = f"{raw_user}@{host}" if keep_user else host
    return SplitURL(f"{scheme}://{authority}{match['rest']}", username, password)


def strip_credentials(url: str) -> str:
    """``url`` fit to be written into a file: no password, no token, no token parameter."""
    clean = split_credentials(url).url
    base, question, rest = clean.partition("?")
    if not question:
        return clean
    query, hash_, fragment = rest.partition("#")
    kept = [p for p in re.split("[&;]", query) if not _TOKEN_NAME.fullmatch(p.partition("=")[0])]
    return base + ("?" + "&".join(kept) if any(kept) else "") + hash_ + fragment


def mask_url(url: str) -> str:
    """``url`` for a message: every credential replaced by ``***``, the host and path kept.

    ``https://TOKEN@host/x`` becomes ``https://***@host/x``, ``https://user:pass@host/x``
    becomes ``https://user:***@host/x``; token-like query parameters become ``name=***``.
    """
    masked = url
    match = _URL.fullmatch(url)
    if match is not None and "@" in match["authority"]:
        userinfo, _, host = match["authority"].rpartition("@")
        user, colon, password = userinfo.partition(":")
        ssh = match["scheme"].lower() in _SSH_SCHEMES
        if not colon:
            shown = user if ssh else MASK
        elif unquote(password).lower() in _PLACEHOLDER_PASSWORDS and not ssh:
            shown = f"{MASK}:{MASK}"
        else:
            shown = f"{user}:{MASK}"
        masked = f"{match['scheme']}://{shown}@{host}{match['rest']}"
    return _TOKEN_PARAMETER.sub(lambda m: m["name"] + MASK, masked)


def mask_credentials(text: str) -> str:
    """``text`` (an error, a log line) with every URL in it masked by ``mask_url``."""
    return _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), text)


def credential_warnings(url: str, *, setting: str = "git.url") -> list[str]:
    """What ``validate`` says about credentials written into a URL setting."""
    if not split_credentials(url).has_secret and strip_credentials(url) == url:
        return []
    return [
        f'{setting} "{mask_url(url)}" carries credentials: they work, but a config file is the '
        "wrong place for them; put the token in a file under secretsDir and name it with "
        "git.credentialsRef"
    ]
