"""The test Git server's CGI response split: only the headers are normalised, never the pack."""

from __future__ import annotations

from git_http_server import split_cgi_response


def test_crlf_inside_the_body_is_kept_byte_for_byte() -> None:
    body = b"PACK\x00\x02\r\n\r\n\x0d\x0a\n\nend"
    head, payload = split_cgi_response(b"Status: 200 OK\r\nContent-Type: x\r\n\r\n" + body)
    assert head == b"Status: 200 OK\nContent-Type: x"
    assert payload == body


def test_lf_only_headers_are_split_at_the_first_blank_line() -> None:
    head, payload = split_cgi_response(b"Content-Type: x\n\nPACK\r\n\r\n")
    assert (head, payload) == (b"Content-Type: x", b"PACK\r\n\r\n")


def test_output_without_a_blank_line_is_all_headers() -> None:
    assert split_cgi_response(b"Status: 500") == (b"Status: 500", b"")
