"""api/ stays free of import cycles, counting imports placed inside functions (a cycle held
together by an inner import is still a cycle: the modules cannot be read one without the
other), and its routing modules load every module they dispatch to."""

from __future__ import annotations

from bench.codestats import analyse


def test_no_import_cycle_involves_api():
    cycles = analyse()["cycles_with_inner_imports"]
    assert [group for group in cycles if any(m.startswith("api.") for m in group)] == []  # type: ignore[union-attr]


def test_the_routers_and_the_signature_modules_import_nothing_inside_functions():
    routing = (
        "api/s3/router.py",
        "api/s3/operations.py",
        "api/admin/router.py",
        "api/admin/operations.py",
        "api/iam/query_api.py",
        "api/iam/operations.py",
        "api/auth/authz.py",
        "api/auth/authenticate.py",
        "api/auth/signature.py",
        "api/auth/sigv4.py",
        "api/auth/sigv2.py",
    )
    inner = [(path, line) for path, line, _explained in analyse()["inner_imports"] if path in routing]  # type: ignore[union-attr]
    assert inner == []
