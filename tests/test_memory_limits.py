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
