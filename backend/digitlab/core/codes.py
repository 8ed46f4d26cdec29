"""Secrets that people read, type or say aloud: join codes, teacher invitations, one-time passwords.

One alphabet without the characters that look alike on paper and on a projector (0/O, 1/I/L, U/V): 30 characters,
so each carries log2(30) ~ 4.9 bits. Codes are typed case-insensitively and with or without their dashes and
spaces; `normalize` turns whatever was typed into the stored form or None.
"""

import secrets

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
_IGNORED = str.maketrans("", "", "- \t\u00a0\u2010\u2011\u2012\u2013")  # dashes and spaces people type or copy
GROUP = 4


def new_code(length: int) -> str:
    """A random code of `length` characters in its stored form (upper case, no dashes)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def normalize(typed: str, length: int) -> str | None:
    """The stored form of a typed code ("abcd efgh", "ABCD-EFGH" -> "ABCDEFGH"), or None when it cannot be
    one (wrong length, a character outside the alphabet)."""
    code = typed.translate(_IGNORED).upper()
    if len(code) != length or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return code


def display(code: str) -> str:
    """The stored form in groups of four for reading: "ABCDEFGH" -> "ABCD-EFGH"."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def one_time_password(groups: int = 3) -> str:
    """A random password for a login card: lower-case groups of four ("k7mp-x2qd-9hav"), 12 characters of the
    alphabet (~59 bits): far beyond what the login throttle lets anyone guess, and easy to copy from paper."""
    return "-".join(new_code(GROUP).lower() for _ in range(groups))
