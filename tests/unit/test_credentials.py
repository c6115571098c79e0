"""Credentials in Git URLs: split off for Git, stripped from files, masked in every message."""

from __future__ import annotations

import pytest
import yaml
from targets_fixture import bridge_spec, tree

from lynq_bridge.core.credentials import (
    SplitURL,
    credential_warnings,
    mask_credentials,
    mask_url,
    split_credentials,
    strip_credentials,
)
from renderers import target_for

SECRET = "s3cr3t-Tok3n"

# (URL, what Git gets, user name, password, masked for people)
FORMS = [
    (
        f"https://{SECRET}@git.example.com/x.git",
        "https://git.example.com/x.git",
        SECRET,
        None,
        "https://***@git.example.com/x.git",
    ),
    (
        f"https://bot:{SECRET}@git.example.com/x.git",
        "https://git.example.com/x.git",
        "bot",
        SECRET,
        "https://bot:***@git.example.com/x.git",
    ),
    (
        f"http://bot:{SECRET}@git.example.com:8080/a/x.git",
        "http://git.example.com:8080/a/x.git",
        "bot",
        SECRET,
        "http://bot:***@git.example.com:8080/a/x.git",
    ),
    (  # GitHub's token-as-user convention: the user name is the secret
        f"https://{SECRET}:x-oauth-basic@github.com/o/x.git",
        "https://github.com/o/x.git",
        SECRET,
        "x-oauth-basic",
        "https://***:***@github.com/o/x.git",
    ),
    (  # an empty password: the user name is the token
        f"https://{SECRET}:@github.com/o/x.git",
        "https://github.com/o/x.git",
        SECRET,
        "",
        "https://***:***@github.com/o/x.git",
    ),
    (
        "https://bot:p%40ss%3Aw%2Fd@git.example.com/x.git",
        "https://git.example.com/x.git",
        "bot",
        "p@ss:w/d",
        "https://bot:***@git.example.com/x.git",
    ),
    (  # a raw "@" in the password: the host is after the last one
        f"https://bot:{SECRET}@x@git.example.com/x.git",
        "https://git.example.com/x.git",
        "bot",
        f"{SECRET}@x",
        "https://bot:***@git.example.com/x.git",
    ),
    (
        f"HTTPS://bot:{SECRET}@git.example.com/x.git",
        "HTTPS://git.example.com/x.git",
        "bot",
        SECRET,
        "HTTPS://bot:***@git.example.com/x.git",
    ),
    (  # SSH keeps the account it logs in as; only the password goes
        f"ssh://deploy:{SECRET}@git.example.com/x.git",
        "ssh://deploy@git.example.com/x.git",
        "deploy",
        SECRET,
        "ssh://deploy:***@git.example.com/x.git",
    ),
    (
        "ssh://git@git.example.com:2222/x.git",
        "ssh://git@git.example.com:2222/x.git",
        "git",
        None,
        "ssh://git@git.example.com:2222/x.git",
    ),
    ("git@github.com:o/x.git", "git@github.com:o/x.git", None, None, "git@github.com:o/x.git"),
    ("/srv/git/x.git", "/srv/git/x.git", None, None, "/srv/git/x.git"),
    ("file:///srv/git/x.git", "file:///srv/git/x.git", None, None, "file:///srv/git/x.git"),
    (
        "https://git.example.com/x.git",
        "https://git.example.com/x.git",
        None,
        None,
        "https://git.example.com/x.git",
    ),
]


@pytest.mark.parametrize(("url", "clean", "username", "password", "masked"), FORMS)
def test_every_credential_form_is_split_off_and_masked(
    url: str, clean: str, username: str | None, password: str | None, masked: str
) -> None:
    assert split_credentials(url) == SplitURL(clean, username, password)
    assert mask_url(url) == masked
    assert strip_credentials(url) == clean
    assert SECRET not in mask_url(url) and SECRET not in clean


@pytest.mark.parametrize(
    ("url", "masked", "stripped"),
    [
        (
            f"https://git.example.com/x.git?private_token={SECRET}",
            "https://git.example.com/x.git?private_token=***",
            "https://git.example.com/x.git",
        ),
        (
            f"https://git.example.com/x.git?ref=a&access_token={SECRET}#top",
            "https://git.example.com/x.git?ref=a&access_token=***#top",
            "https://git.example.com/x.git?ref=a#top",
        ),
        (
            f"https://git.example.com/x.git?TOKEN={SECRET}&ref=a",
            "https://git.example.com/x.git?TOKEN=***&ref=a",
            "https://git.example.com/x.git?ref=a",
        ),
        (
            "https://git.example.com/x.git?ref=a",
            "https://git.example.com/x.git?ref=a",
            "https://git.example.com/x.git?ref=a",
        ),
    ],
)
def test_token_query_parameters_are_masked_and_stripped(
    url: str, masked: str, stripped: str
) -> None:
    assert mask_url(url) == masked
    assert strip_credentials(url) == stripped


def test_every_url_in_a_git_error_is_masked() -> None:
    stderr = (
        f"fatal: unable to access 'https://{SECRET}@git.example.com/x.git/': error 403; "
        f"tried http://bot:{SECRET}@mirror.example.com/x and git@github.com:o/x.git"
    )
    assert mask_credentials(stderr) == (
        "fatal: unable to access 'https://***@git.example.com/x.git/': error 403; "
        "tried http://bot:***@mirror.example.com/x and git@github.com:o/x.git"
    )


@pytest.mark.parametrize(
    "url",
    [
        f"https://{SECRET}@git.example.com/x.git",
        f"https://bot:{SECRET}@git.example.com/x.git",
        f"ssh://deploy:{SECRET}@git.example.com/x.git",
        f"https://git.example.com/x.git?private_token={SECRET}",
    ],
)
def test_credentials_in_git_url_are_a_masked_warning(url: str) -> None:
    (warning,) = credential_warnings(url)
    assert warning.startswith("git.url ") and "git.credentialsRef" in warning
    assert SECRET not in warning and "***" in warning


@pytest.mark.parametrize(
    "url", ["https://git.example.com/x.git", "ssh://git@git.example.com/x.git", "/srv/x.git"]
)
def test_url_without_credentials_draws_no_warning(url: str) -> None:
    assert credential_warnings(url) == []


# ------------------------------------------------------------------------------- Argo CD


@pytest.mark.parametrize(
    "setting",
    [
        {"git": {"url": f"https://bot:{SECRET}@git.example.com/platform/gitops.git"}},
        {"git": {"url": f"https://{SECRET}@git.example.com/platform/gitops.git"}},
        {
            "argocd": {
                "repoURL": f"https://{SECRET}:x-oauth-basic@git.example.com/platform/gitops.git"
            }
        },
    ],
)
def test_argocd_application_names_the_repository_without_credentials(
    setting: dict[str, dict[str, str]],
) -> None:
    files = tree("argocd", **setting)
    app = yaml.safe_load(files["argocd/acme-web.yaml"])
    assert app["spec"]["source"]["repoURL"] == "https://git.example.com/platform/gitops.git"
    assert not [path for path, content in files.items() if SECRET.encode() in content]
    warnings = target_for(bridge_spec("argocd", **setting)).warnings([])
    (stripped,) = [w for w in warnings if "carries credentials" in w]
    assert "repository Secret" in stripped and SECRET not in stripped
    assert stripped.startswith("argocd.repoURL" if "argocd" in setting else "git.url")


def test_both_target_strips_credentials_and_warns_too() -> None:
    setting = {"git": {"url": f"https://{SECRET}@git.example.com/platform/gitops.git"}}
    files = tree("both", **setting)
    assert not [path for path, content in files.items() if SECRET.encode() in content]
    warnings = target_for(bridge_spec("both", **setting)).warnings([])
    assert [w for w in warnings if "carries credentials" in w]


def test_argocd_repository_without_credentials_draws_no_credential_warning() -> None:
    warnings = target_for(bridge_spec("argocd")).warnings([])
    assert not [w for w in warnings if "credentials" in w]


@pytest.mark.parametrize(
    ("url", "stripped"),
    [
        # a token whose value holds "=" is still recognised by the name before the first "="
        (f"https://h/x.git?access_token={SECRET}=x", "https://h/x.git"),
        # every other parameter is kept, in order, joined by "&"
        (f"https://h/x.git?a=1&token={SECRET};b=2", "https://h/x.git?a=1&b=2"),
        # a "?" inside the query belongs to the query
        (f"https://h/x.git?a=1?2&private_token={SECRET}", "https://h/x.git?a=1?2"),
        (f"https://h/x.git?token={SECRET}#frag", "https://h/x.git#frag"),
    ],
)
def test_stripping_token_parameters_keeps_everything_else_exactly(url: str, stripped: str) -> None:
    assert strip_credentials(url) == stripped


@pytest.mark.parametrize("url", ["git@github.com:acme/gitops.git", "../gitops.git", "/srv/x.git"])
def test_scp_style_and_local_paths_carry_no_secret(url: str) -> None:
    split = split_credentials(url)
    assert split.url == url and not split.has_secret
    assert strip_credentials(url) == url == mask_url(url)


def test_credential_warning_says_where_the_token_belongs() -> None:
    (warning,) = credential_warnings(f"https://{SECRET}@git.example.com/x.git")
    assert SECRET not in warning
    assert "secretsDir" in warning and "git.credentialsRef" in warning


def test_a_token_given_as_the_https_user_name_is_a_secret_but_an_ssh_account_is_not() -> None:
    assert split_credentials(f"https://{SECRET}@git.example.com/x.git").has_secret
    assert not split_credentials("ssh://git@git.example.com/x.git").has_secret


def test_a_token_parameter_before_a_second_question_mark_is_stripped() -> None:
    stripped = strip_credentials(f"https://h/x.git?token={SECRET}?x=1")
    assert SECRET not in stripped and stripped == "https://h/x.git"
