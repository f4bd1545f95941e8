"""Password hashing with argon2id (argon2-cffi), and the few rules a new password must meet.

Hashing and verifying take tens of milliseconds of CPU and 64 MiB each, by design. They run in
a small pool of worker threads (argon2 releases the GIL), never on the event loop: a request
full of guesses would otherwise stall every other request, health checks included, and the
pool's size bounds the CPU and memory that password checks can take at once.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MAX_LENGTH = 256
# Password checks running at once in this process; the rest wait their turn.
WORKERS = 2

_hasher = PasswordHasher()
_pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="passwords")
# Verified against when the user does not exist, so a login takes as long either way and its
# timing does not tell which emails have accounts.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    """An argon2id hash (salt and parameters included) for storage, made in a worker thread."""
    return await asyncio.get_running_loop().run_in_executor(_pool, _hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether the password matches, checked in a worker thread; a missing hash costs the same
    time and never matches."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool, _verify, password_hash, password)


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    return None
