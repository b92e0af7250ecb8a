"""domain.ids: buffered random UUIDs are version 4, unique, and a forked worker never
repeats its parent's (the parent's buffer is dropped in the child)."""

from __future__ import annotations

import os

from domain.ids import random_uuid


def test_version_4_and_unique():
    ids = [random_uuid() for _ in range(5000)]
    assert {u.version for u in ids} == {4}
    assert len(set(ids)) == 5000


def test_forked_child_does_not_repeat_the_parent():
    random_uuid()  # the parent's buffer now holds the next 255 ids
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.write(write, b"".join(random_uuid().bytes for _ in range(10)))
        os._exit(0)
    os.close(write)
    child = os.read(read, 160)
    os.close(read)
    os.waitpid(pid, 0)
    parent = b"".join(random_uuid().bytes for _ in range(10))
    assert len(child) == 160 and child != parent
    assert not {child[i : i + 16] for i in range(0, 160, 16)} & {parent[i : i + 16] for i in range(0, 160, 16)}
