"""Nothing large is allocated without being checked first against the memory this process
may use (issue 17): the cap follows an address-space limit, and the fill-reducing order
of a crossed model's tail is bounded in memory."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import scipy.sparse as sp

from mixedmodels.linalg.ordering import minimum_degree


def test_the_memory_cap_follows_an_address_space_limit() -> None:
    limit = 3 * 2**30
    code = (
        f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}));"
        "from mixedmodels.core.tailstorage import MAX_TAIL_BYTES; print(MAX_TAIL_BYTES)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) <= 0.75 * limit


def test_a_bounded_ordering_is_still_a_permutation() -> None:
    rng = np.random.default_rng(0)
    n = 400
    rows = rng.integers(0, n, 3000)
    cols = rng.integers(0, n, 3000)
    A = sp.coo_matrix((np.ones(3000), (rows, cols)), shape=(n, n)).tocsr()
    A = A + A.T + sp.identity(n)
    free = minimum_degree(A)
    bounded = minimum_degree(A, max_edges=4000)
    for order in (free, bounded):
        assert np.array_equal(np.sort(order), np.arange(n))
    assert not np.array_equal(free, bounded)  # the bound took effect


def test_what_is_available_now_follows_the_address_space_in_use() -> None:
    # a limit 256 MB above what the process already maps leaves about 256 MB
    code = (
        "import resource\n"
        "from mixedmodels.core.memory import available_bytes\n"
        "size = [int(l.split()[1]) * 1024 for l in open('/proc/self/status')"
        " if l.startswith('VmSize:')][0]\n"
        "limit = size + 256 * 2**20\n"
        "resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
        "print(available_bytes())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert 0 < int(out.stdout) <= 256 * 2**20


def test_a_tail_larger_than_what_is_available_now_is_refused(monkeypatch) -> None:
    # the static cap would allow it; memory in use by the data (or other programs) does not
    import pytest

    from mixedmodels.core import tailstorage
    from mixedmodels.errors import ModelTooLargeError

    rng = np.random.default_rng(1)
    n, m0, m1 = 2000, 50, 400
    zt0 = sp.csr_matrix((np.ones(n), (rng.integers(0, m1, n), rng.integers(0, m0, n))), (m1, m0))
    ztt = sp.csr_matrix(sp.diags(np.asarray(zt0.sum(axis=1)).ravel()))
    needed = tailstorage.choose_tail(ztt, zt0, [(m1, 1)]).bytes
    monkeypatch.setattr(tailstorage, "MAX_TAIL_BYTES", 100 * needed)
    monkeypatch.setattr(tailstorage, "available_bytes", lambda: needed // 2)
    with pytest.raises(ModelTooLargeError, match="this process can take now"):
        tailstorage.choose_tail(ztt, zt0, [(m1, 1)])
    # with room again (the pair layout is taken only with room for the largest pair map)
    room = 10 * needed + 12 * tailstorage.MAX_PAIRS
    monkeypatch.setattr(tailstorage, "available_bytes", lambda: room)
    assert tailstorage.choose_tail(ztt, zt0, [(m1, 1)]).bytes == needed
