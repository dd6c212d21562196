"""Password hashing (argon2id) and pupil passwords that are easy to read aloud."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's minimum for argon2id (m=19 MiB, t=2, p=1): about a third of argon2-cffi's
# default cost, so creating 500 pupils stays quick while each guess stays expensive.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

# No look-alikes (0/O, 1/l/I, 5/S…): pupils copy these from a paper slip.
CONSONANTS = "bcdfghjkmnprstvwz"
VOWELS = "aeiou"
DIGITS = "2346789"

PUPIL_MIN, PUPIL_MAX = 5, 8
MEMBER_MIN = 8


class PasswordError(ValueError):
    """A password that may not be used; the message says why, for people."""


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Letters of a generated pupil password: consonant, vowel, ... (then one digit).
PUPIL_LETTERS = 7


def generate_pupil_password() -> str:
    """A pronounceable 8-character word ending in a digit, e.g. 'kodupam4'.

    Short enough to copy from the guide's paper slips; 73 million of them (26 bits), so
    that with the login throttle a year of guessing finds about 0.03 of 500 pupils'
    accounts even from many addresses (docs/security.md).
    """
    letters = "".join(
        secrets.choice(CONSONANTS if i % 2 == 0 else VOWELS) for i in range(PUPIL_LETTERS)
    )
    return letters + secrets.choice(DIGITS)


def check_pupil_password(password: str) -> str:
    """A teacher's replacement pupil password: one word of 5 to 8 characters (F6)."""
    if not isinstance(password, str) or not PUPIL_MIN <= len(password) <= PUPIL_MAX:
        raise PasswordError(
            f"A pupil's password must be {PUPIL_MIN} to {PUPIL_MAX} characters long."
        )
    if not password.isalnum():
        raise PasswordError("A pupil's password is one word: letters and digits only.")
    return password


def check_member_password(password: str) -> str:
    """Teachers' and visitors' own passwords: at least 8 characters."""
    if not isinstance(password, str) or len(password) < MEMBER_MIN:
        raise PasswordError(f"A password must be at least {MEMBER_MIN} characters long.")
    if len(password) > 200:
        raise PasswordError("A password must be at most 200 characters long.")
    return password
