"""Which sparse Cholesky for ``M = Lambda' Z'Z Lambda + I`` of a crossed design (issue 12).

For each design this builds ``M`` for ``y ~ x + (1 | subj) + (1 | item)`` at a typical
theta, and the ``p + 1 = 3`` right-hand sides ``B = Lambda' Z' [1 x y]``, then runs every
candidate factorization in a fresh process (so its peak memory is its own) and records:
symbolic analysis / ordering time (once per fit), numeric factorization time (once per
theta: a fit needs 20-60), log det M, the time of the solves with B, nnz(L), peak memory
and exactness.  Exactness is measured on what the profiled criterion uses: log det M and the
3 x 3 matrix ``B' M^{-1} B = (L^{-1} P B)' (L^{-1} P B)``, each as a relative error against
the dense reference (subjects eliminated in closed form, the item Schur complement factored
by LAPACK), itself checked against a full dense Cholesky of M where M fits.

Usage::

    python benchmarks/sparse_cholesky_choice.py                      # every design
    python benchmarks/sparse_cholesky_choice.py --designs uniform,longtail_2k
    python benchmarks/sparse_cholesky_choice.py --candidates cholmod,mf_hybrid --reps 3

Writes ``benchmarks/sparse_cholesky_choice.md`` and ``.json`` (``--out``).  Candidates that
need a package that is missing are skipped with a note.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import _multifrontal as mf  # noqa: E402
import _ordering  # noqa: E402
import crossed_longtail  # noqa: E402

DEFAULT_KIT = BENCH_DIR.parents[1] / "shared" / "bench"
TAG = "CHOL-RESULT "
THETA = (0.8, 0.5)
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: Numeric factorizations are timed at these thetas (the pattern never changes).
REP_THETAS = [THETA, (0.6, 0.7), (1.1, 0.3), (0.9, 0.45), (0.7, 0.55)]

DESIGNS: dict[str, tuple[int, int, int]] = {
    "uniform": (500_000, 10_000, 1_000),  # sim_crossed of the shared kit
    # the study's long-tailed designs (not the larger ones fitted or refused since)
    **{
        name: crossed_longtail.PRESETS[name]
        for name in ("longtail_2k", "longtail_8k", "longtail_17k", "longtail_2m")
    },
}


# --------------------------------------------------------------------------- the designs


def design_codes(name: str, kit: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(subj, item, x, y) integer codes and columns of one design."""
    if name == "uniform":
        spec = importlib.util.spec_from_file_location("make_sim", kit / "make_sim.py")
        if spec is None or spec.loader is None:
            raise FileNotFoundError(kit / "make_sim.py")
        make_sim = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(make_sim)
        d = make_sim.crossed()
        subj = np.unique(d["subj"], return_inverse=True)[1]
        item = np.unique(d["item"], return_inverse=True)[1]
        return subj, item, d["x"], d["y"]
    c = crossed_longtail.make_codes(*DESIGNS[name])
    return c["subj"], c["item"], c["x"], c["y"]


def build_design(name: str, kit: Path, cache: Path) -> Path:
    """Z'Z, its block labels and Z'[1 x y] of a design, cached as .npz."""
    path = cache / f"chol_{name}.npz"
    if path.exists():
        return path
    subj, item, x, y = design_codes(name, kit)
    S, n_items = int(subj.max()) + 1, int(item.max()) + 1
    n = subj.size
    C = sp.csr_matrix((np.ones(n), (subj, item)), shape=(S, n_items))
    C.sum_duplicates()
    ds = np.bincount(subj, minlength=S).astype(float)
    di = np.bincount(item, minlength=n_items).astype(float)
    ZtZ = sp.bmat([[sp.diags(ds), C], [C.T, sp.diags(di)]], format="csc")
    ZtZ.sort_indices()
    rows = ZtZ.indices
    cols = np.repeat(np.arange(S + n_items), np.diff(ZtZ.indptr))
    X = np.column_stack([np.ones(n), x, y])
    ZtB = np.vstack(
        [
            np.column_stack([np.bincount(codes, weights=X[:, j], minlength=m) for j in range(3)])
            for codes, m in ((subj, S), (item, n_items))
        ]
    )
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        indptr=ZtZ.indptr,
        indices=rows,
        ztz=ZtZ.data,
        row_item=(rows >= S),
        col_item=(cols >= S),
        diag=(rows == cols),
        ztb=ZtB,
        S=S,
        I=n_items,
        n=n,
    )
    return path


class Design:
    """A loaded design: M(theta) and B(theta) on the fixed pattern of Z'Z."""

    def __init__(self, path: Path) -> None:
        z = np.load(path)
        self.S, self.I, self.n = int(z["S"]), int(z["I"]), int(z["n"])
        self.q = self.S + self.I
        self.indptr, self.indices = z["indptr"], z["indices"]
        self.ztz, self.diag = z["ztz"], z["diag"]
        self.row_item, self.col_item = z["row_item"], z["col_item"]
        self.ztb = z["ztb"]

    def M(self, theta: tuple[float, float]) -> sp.csc_matrix:
        t = np.asarray(theta)
        data = self.ztz * t[self.row_item.astype(int)] * t[self.col_item.astype(int)]
        data = data + self.diag
        return sp.csc_matrix((data, self.indices, self.indptr), shape=(self.q, self.q))

    def B(self, theta: tuple[float, float]) -> np.ndarray:
        scale = np.concatenate([np.full(self.S, theta[0]), np.full(self.I, theta[1])])
        out: np.ndarray = self.ztb * scale[:, None]
        return out

    def C(self) -> sp.csr_matrix:
        """The subject x item count block of Z'Z."""
        M = sp.csc_matrix((self.ztz, self.indices, self.indptr), shape=(self.q, self.q))
        return M[: self.S, self.S :].tocsr()


# --------------------------------------------------------------------------- candidates
# Each returns a dict; "factor" is called once per theta after "analyse" ran once.


class Candidate:
    name = ""
    label = ""
    needs: tuple[str, ...] = ()

    def analyse(self, d: Design, M: sp.csc_matrix) -> None:  # once per fit
        pass

    def factor(self, d: Design, M: sp.csc_matrix, theta: tuple[float, float]) -> None:
        raise NotImplementedError

    def logdet(self) -> float:
        raise NotImplementedError

    def solve(self, B: np.ndarray) -> np.ndarray:
        """``B' M^{-1} B`` (3 x 3), through ``L^{-1} P B`` where the package allows it."""
        raise NotImplementedError

    def nnz_l(self) -> int | None:
        return None

    def info(self) -> dict[str, Any]:
        return {}


class DenseSchur(Candidate):
    """Today's engine: subjects in closed form, the item Schur complement dense (LAPACK)."""

    name = "dense_schur"
    label = "dense Schur on items (today)"

    def analyse(self, d: Design, M: sp.csc_matrix) -> None:
        self.Cm = d.C()
        self.CmT = self.Cm.T.tocsr()
        self.ds = np.asarray(d.ztz[d.diag][: d.S])
        self.di = np.asarray(d.ztz[d.diag][d.S :])

    def factor(self, d: Design, M: sp.csc_matrix, theta: tuple[float, float]) -> None:
        import scipy.linalg

        t1, t2 = theta
        self.t = theta
        self.Ds = t1 * t1 * self.ds + 1.0
        w = (t1 * t2) ** 2 / self.Ds
        G = (self.CmT @ sp.diags(w) @ self.Cm).toarray()
        G *= -1.0
        G[np.diag_indices_from(G)] += t2 * t2 * self.di + 1.0
        self.LS = scipy.linalg.cholesky(G, lower=True, overwrite_a=True, check_finite=False)

    def logdet(self) -> float:
        return float(np.log(self.Ds).sum() + 2.0 * np.log(np.diag(self.LS)).sum())

    def solve(self, B: np.ndarray) -> np.ndarray:
        import scipy.linalg

        S = self.Ds.size
        y1 = B[:S] / np.sqrt(self.Ds)[:, None]
        rhs = B[S:] - self.t[0] * self.t[1] * (self.CmT @ (B[:S] / self.Ds[:, None]))
        y2 = scipy.linalg.solve_triangular(self.LS, rhs, lower=True, check_finite=False)
        out: np.ndarray = y1.T @ y1 + y2.T @ y2
        return out

    def nnz_l(self) -> int:
        i = self.LS.shape[0]
        return int(self.Ds.size + self.Cm.nnz + i * (i + 1) // 2)


class DenseFull(Candidate):
    """Reference: LAPACK Cholesky of the whole M as a dense matrix (small designs only)."""

    name = "dense_full"
    label = "dense Cholesky of all of M (reference)"

    def factor(self, d: Design, M: sp.csc_matrix, theta: tuple[float, float]) -> None:
        import scipy.linalg

        self.L = scipy.linalg.cholesky(M.toarray(), lower=True, overwrite_a=True)

    def logdet(self) -> float:
        return float(2.0 * np.log(np.diag(self.L)).sum())

    def solve(self, B: np.ndarray) -> np.ndarray:
        import scipy.linalg

        Y = scipy.linalg.solve_triangular(self.L, B, lower=True, check_finite=False)
        out: np.ndarray = Y.T @ Y
        return out

    def nnz_l(self) -> int:
        return int(np.count_nonzero(np.tril(self.L)))


class SuperLU(Candidate):
    """scipy's splu in symmetric mode; every theta redoes the ordering (no separate phase)."""

    name = "superlu"
    label = "scipy SuperLU (MMD on A'+A, symmetric mode)"

    def factor(self, d: Design, M: sp.csc_matrix, theta: tuple[float, float]) -> None:
        import scipy.sparse.linalg as spl

        self.lu = spl.splu(
            M,
            permc_spec="MMD_AT_PLUS_A",
            diag_pivot_thresh=0.0,
            options=dict(SymmetricMode=True),
        )

    def logdet(self) -> float:
        return float(np.log(np.abs(self.lu.U.diagonal())).sum())

    def solve(self, B: np.ndarray) -> np.ndarray:
        out: np.ndarray = B.T @ self.lu.solve(B)  # full solve: the API has no L^{-1} alone
        return out

    def nnz_l(self) -> int:
        return int(self.lu.L.nnz)

    def info(self) -> dict[str, Any]:
        return {"perm_r == perm_c": bool(np.array_equal(self.lu.perm_r, self.lu.perm_c))}


def _cvx_lower(M: sp.csc_matrix) -> Any:
    import cvxopt

    L = sp.tril(M, format="coo")
    return cvxopt.spmatrix(
        cvxopt.matrix(L.data),
        cvxopt.matrix(L.row.astype(np.int64)),
        cvxopt.matrix(L.col.astype(np.int64)),
        M.shape,
    )


class Cholmod(Candidate):
    """CHOLMOD (supernodal LL') through cvxopt.cholmod, its own ordering choice."""

    name = "cholmod"
    label = "CHOLMOD via cvxopt (its AMD)"
    needs = ("cvxopt",)
    order: str = "own"

    def user_perm(self, d: Design, M: sp.csc_matrix) -> np.ndarray | None:
        return None

    def analyse(self, d: Design, M: sp.csc_matrix) -> None:
        import cvxopt
        import cvxopt.cholmod as cm

        cm.options.clear()
        cm.options["supernodal"] = 2
        p = self.user_perm(d, M)
        A = _cvx_lower(M)
        if p is None:
            self.F = cm.symbolic(A)
        else:
            cm.options["nmethods"] = 1
            self.F = cm.symbolic(A, p=cvxopt.matrix(p.astype(np.int64)))

    def factor(self, d: Design, M: sp.csc_matrix, theta: tuple[float, float]) -> None:
        import cvxopt.cholmod as cm

        cm.numeric(_cvx_lower(M), self.F)

    def logdet(self) -> float:
        import cvxopt.cholmod as cm

        return float(2.0 * np.log(np.array(cm.diag(self.F))).sum())

    def solve(self, B: np.ndarray) -> np.ndarray:
        import cvxopt
        import cvxopt.cholmod as cm

        X = cvxopt.matrix(np.asfortranarray(B))
        cm.solve(self.F, X, sys=7)  # P B
        cm.solve(self.F, X, sys=4)  # L^{-1} P B
        Y = np.array(X)
        out: np.ndarray = Y.T @ Y
        return out

    def nnz_l(self) -> int:
        import cvxopt.cholmod as cm

        return len(cm.getfactor(self.F).V)


class CholmodNested(Cholmod):
    name = "cholmod_nested"
    label = "CHOLMOD via cvxopt, subjects first then items (AMD on C'C)"

    def user_perm(self, d: Design, M: sp.csc_matrix) -> np.ndarray:
        C = d.C()
        return np.concatenate([np.arange(d.S), d.S + _amd_cvxopt(C.T @ C)])


class CholmodOurOrder(Cholmod):
    name = "cholmod_ourorder"
    label = "CHOLMOD via cvxopt, our minimum-degree order"

    def user_perm(self, d: Design, M: sp.csc_matrix) -> np.ndarray:
        return _ordering.minimum_degree(M, slack=1.0)


def _keys(A: sp.csc_matrix, q: int) -> np.ndarray:
    """Column-major linear positions of a sorted CSC matrix's entries."""
    return A.indices + np.repeat(np.arange(A.shape[1]), np.diff(A.indptr)) * q


def nested_perm(d: Design, M: sp.csc_matrix) -> np.ndarray:
    """Subjects first (their block is diagonal), then the items by minimum degree on C'C."""
    C = d.C()
    items = _ordering.minimum_degree(C.T @ C, slack=1.0)
    return np.concatenate([np.arange(d.S), d.S + items])


class Qdldl(Candidate):
    """qdldl: simplicial (column-by-column, no BLAS) LDL' with AMD, refactor by update()."""

    name = "qdldl"
    label = "qdldl (simplicial LDL', AMD)"
    needs = ("qdldl",)

    def analyse(self, d: Design, M: sp.csc_matrix) -> None:
        import qdldl

        self.solver = qdldl.Solver(M)  # ordering + symbolic + a first numeric

    def factor(self, d: Design, M: sp.csc_matrix, theta: tuple[float, float]) -> None:
        self.solver.update(M)
        self._L, self._D, _ = self.solver.factors()  # the only way to reach D

    def logdet(self) -> float:
        return float(np.log(self._D).sum())

    def solve(self, B: np.ndarray) -> np.ndarray:
        X = np.column_stack([self.solver.solve(B[:, j]) for j in range(B.shape[1])])
        out: np.ndarray = B.T @ X
        return out

    def nnz_l(self) -> int:
        return int(self._L.nnz + self._D.size)


class Cholespy(Candidate):
    """cholespy: CHOLMOD inside, but analysis + factorization in one constructor, no log det."""

    name = "cholespy"
    label = "cholespy (CHOLMOD, one call, no log det)"
    needs = ("cholespy",)

    def factor(self, d: Design, M: sp.csc_matrix, theta: tuple[float, float]) -> None:
        import cholespy

        self.M = M
        self.s = cholespy.CholeskySolverD(
            M.shape[0],
            M.indptr.astype(np.int32),
            M.indices.astype(np.int32),
            M.data,
            cholespy.MatrixType.CSC,
        )

    def logdet(self) -> float:
        return float("nan")

    def solve(self, B: np.ndarray) -> np.ndarray:
        X = np.zeros_like(B)
        self.s.solve(np.ascontiguousarray(B), X)
        out: np.ndarray = B.T @ X
        return out


class MultifrontalFull(Candidate):
    """Our numpy multifrontal on all of M, our minimum-degree order."""

    name = "mf_full"
    label = "ours: multifrontal on M (MD order)"

    def analyse(self, d: Design, M: sp.csc_matrix) -> None:
        perm = _ordering.minimum_degree(M, slack=1.0)
        self.sym = mf.analyse(M, perm)

    def factor(self, d: Design, M: sp.csc_matrix, theta: tuple[float, float]) -> None:
        self.panels = mf.factorize(self.sym, M.data)

    def logdet(self) -> float:
        return mf.logdet(self.sym, self.panels)

    def solve(self, B: np.ndarray) -> np.ndarray:
        Y = mf.forward_solve(self.sym, self.panels, B)
        out: np.ndarray = Y.T @ Y
        return out

    def nnz_l(self) -> int:
        return self.sym.nnz_l_exact

    def info(self) -> dict[str, Any]:
        return _sym_info(self.sym)


def _sym_info(sym: mf.Symbolic) -> dict[str, Any]:
    widths = np.diff(sym.first)
    fronts = widths + np.array([r.size for r in sym.rows])
    return {
        "supernodes": int(widths.size),
        "largest front": int(fronts.max()),
        "stored L (relaxed)": sym.nnz_l,
        "GFlop": round(sym.flops / 1e9, 2),
    }


class MultifrontalElim(Candidate):
    """Subjects of the set E in closed form (their block is diagonal), the rest multifrontal.

    ``E`` = the subjects that the minimum-degree order eliminates before every one of their
    items: moving them to the front changes no fill, and they go as one vectorised step
    instead of one small front each.  ``all_subjects`` = the nested order (E = every subject).
    """

    name = "mf_hybrid"
    label = "ours: light subjects in closed form + multifrontal (MD order)"
    all_subjects = False

    def analyse(self, d: Design, M: sp.csc_matrix) -> None:
        S = d.S
        if self.all_subjects:
            perm = nested_perm(d, M)
        else:
            perm = _ordering.minimum_degree(M, slack=1.0)
        pos = np.empty_like(perm)
        pos[perm] = np.arange(perm.size)
        C = d.C().tocoo()
        first_item = np.full(S, np.iinfo(np.int64).max)
        np.minimum.at(first_item, C.row, pos[S + C.col])
        E = np.flatnonzero(pos[:S] < first_item)
        keep = np.ones(d.q, dtype=bool)
        keep[E] = False
        R = np.flatnonzero(keep)
        R = R[np.argsort(pos[R], kind="stable")]  # the rest in the MD order
        self.E, self.R = E, R
        # The pattern is fixed: precompute where M's entries and the product's go.
        q = d.q
        idx = sp.csc_matrix((np.arange(M.nnz) + 1.0, M.indices, M.indptr), M.shape).tocsr()
        rr = idx[R][:, R].tocsc()
        rr.sort_indices()
        re = idx[R][:, E].tocsr()
        re.sort_indices()
        self.rr_src = rr.data.astype(np.int64) - 1
        self.re_src = re.data.astype(np.int64) - 1
        self.re_pat = (re.indices, re.indptr, re.shape)
        self.dE_src = (idx.diagonal()[E]).astype(np.int64) - 1
        X = self._product(M.data)
        pat = (sp.csc_matrix((np.ones(rr.nnz), rr.indices, rr.indptr), rr.shape) + X).tocsc()
        pat.sort_indices()
        self.pat = (pat.indices, pat.indptr, pat.shape)
        self.nnz_schur = pat.nnz
        key = pat.indices + np.repeat(np.arange(R.size), np.diff(pat.indptr)) * q
        self.pos_rr = np.searchsorted(key, _keys(rr, q))
        self.pos_x = np.searchsorted(key, _keys(X, q))
        self.sym = mf.analyse(self._schur(M.data), np.arange(R.size))

    def _product(self, data: np.ndarray) -> sp.csc_matrix:
        dE = data[self.dE_src]
        self.dE = dE
        self.M_RE = sp.csr_matrix((data[self.re_src], *self.re_pat[:2]), shape=self.re_pat[2])
        X = (self.M_RE @ sp.diags(1.0 / dE) @ self.M_RE.T).tocsc()
        X.sort_indices()
        return X

    def _schur(self, data: np.ndarray) -> sp.csc_matrix:
        X = self._product(data)
        if X.nnz != self.pos_x.size:
            raise RuntimeError("the Schur complement's pattern changed")
        out = np.zeros(self.nnz_schur)
        out[self.pos_rr] = data[self.rr_src]
        out[self.pos_x] -= X.data
        return sp.csc_matrix((out, *self.pat[:2]), shape=self.pat[2])

    def factor(self, d: Design, M: sp.csc_matrix, theta: tuple[float, float]) -> None:
        self.panels = mf.factorize(self.sym, self._schur(M.data).data)

    def logdet(self) -> float:
        return float(np.log(self.dE).sum()) + mf.logdet(self.sym, self.panels)

    def solve(self, B: np.ndarray) -> np.ndarray:
        yE = B[self.E] / np.sqrt(self.dE)[:, None]
        rhs = B[self.R] - self.M_RE @ (B[self.E] / self.dE[:, None])
        yR = mf.forward_solve(self.sym, self.panels, rhs)
        out: np.ndarray = yE.T @ yE + yR.T @ yR
        return out

    def nnz_l(self) -> int:
        return int(self.E.size + self.M_RE.nnz + self.sym.nnz_l_exact)

    def info(self) -> dict[str, Any]:
        return {"closed-form subjects": int(self.E.size), **_sym_info(self.sym)}


class MultifrontalNested(MultifrontalElim):
    name = "mf_nested"
    label = "ours: all subjects in closed form + multifrontal on the item Schur"
    all_subjects = True


CANDIDATES: dict[str, type[Candidate]] = {
    c.name: c
    for c in (
        DenseFull,
        DenseSchur,
        SuperLU,
        Cholmod,
        CholmodNested,
        CholmodOurOrder,
        Qdldl,
        Cholespy,
        MultifrontalFull,
        MultifrontalElim,
        MultifrontalNested,
    )
}

#: Which candidates run on which design (the others would take far too long or too much
#: memory; the exploratory runs behind this choice are in the .md).
PLAN: dict[str, list[str]] = {
    "uniform": list(CANDIDATES),
    "longtail_2k": [c for c in CANDIDATES if c != "dense_full"],
    "longtail_8k": [c for c in CANDIDATES if c not in ("dense_full", "cholespy")],
    "longtail_17k": [
        "dense_schur",
        "cholmod",
        "cholmod_nested",
        "cholmod_ourorder",
        "mf_hybrid",
        "mf_nested",
    ],
    "longtail_2m": ["cholmod", "cholmod_nested", "mf_hybrid", "mf_nested"],
}


# --------------------------------------------------------------------------- orderings


def _amd_cvxopt(A: sp.spmatrix) -> np.ndarray:
    import cvxopt
    import cvxopt.amd

    return np.array(cvxopt.amd.order(_cvx_lower(sp.csc_matrix(A)))).ravel().astype(np.int64)


def orderings(d: Design, big: bool) -> dict[str, dict[str, Any]]:
    """Fill (nnz(L), flops, largest front) of each elimination order, from the symbolic phase."""
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    M = d.M(THETA)
    M.sort_indices()
    C = d.C()
    CtC = C.T @ C
    S, n_items = d.S, d.I
    deg = np.diff(M.indptr) - 1
    orders: dict[str, Callable[[], np.ndarray]] = {
        "AMD on M (cvxopt.amd, CHOLMOD's default)": lambda: _amd_cvxopt(M),
        "our minimum degree on M": lambda: _ordering.minimum_degree(M, slack=1.0),
        "subjects first, items by AMD on C'C": lambda: np.concatenate(
            [np.arange(S), S + _amd_cvxopt(CtC)]
        ),
        "all by degree in M (static)": lambda: np.argsort(deg, kind="stable"),
    }
    if not big:  # our MD on the denser C'C graph is slow (minutes at 30k items)
        orders["subjects first, items by our MD on C'C"] = lambda: nested_perm(d, M)
        orders["items first, subjects by degree"] = lambda: np.concatenate(
            [S + np.arange(n_items), np.argsort(deg[:S], kind="stable")]
        )
        orders["reverse Cuthill-McKee"] = lambda: reverse_cuthill_mckee(
            M.tocsr(), symmetric_mode=True
        ).astype(np.int64)
    out: dict[str, dict[str, Any]] = {}
    for name, make in orders.items():
        if name.startswith(("AMD", "subjects first, items by AMD")) and not _has("cvxopt"):
            continue
        t0 = time.perf_counter()
        perm = make()
        t_order = time.perf_counter() - t0
        sym = mf.analyse(M, perm)
        info = _sym_info(sym)
        out[name] = {
            "order_s": t_order,
            "nnz_l": sym.nnz_l_exact,
            "gflop": info["GFlop"],
            "largest_front": info["largest front"],
        }
    # Today's layout: every subject in closed form, the item block dense.
    out["subjects first, item block dense (today)"] = {
        "order_s": 0.0,
        "nnz_l": int(S + C.nnz + n_items * (n_items + 1) // 2),
        "gflop": round((n_items**3 / 3 + float(np.sum(np.diff(C.indptr) ** 2))) / 1e9, 2),
        "largest_front": n_items,
    }
    return out


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# --------------------------------------------------------------------------- one measurement


def _status(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return float(line.split()[1]) / 1024.0
    return float("nan")


def child(design_path: Path, cand_name: str, reps: int) -> dict[str, Any]:
    d = Design(design_path)
    if cand_name == "orderings":
        return {"orderings": orderings(d, big=d.q > 60_000)}
    cand = CANDIDATES[cand_name]()
    M0 = d.M(THETA)
    B0 = d.B(THETA)
    # The last factorization is at THETA: its log det and solves are the ones reported.
    thetas = [*REP_THETAS[1 : max(1, reps)], THETA]
    mats = [d.M(t) for t in thetas]
    base = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    t0 = time.perf_counter()
    cand.analyse(d, M0)
    t_sym = time.perf_counter() - t0
    times, cpu = [], []
    for theta, M in zip(thetas, mats, strict=True):
        t0, c0 = time.perf_counter(), time.process_time()
        cand.factor(d, M, theta)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    ld = cand.logdet()
    t0 = time.perf_counter()
    gram = cand.solve(B0)
    t_solve = time.perf_counter() - t0
    peak = _status("VmHWM")
    out = {
        "symbolic_s": t_sym,
        "numeric_s": times,
        "numeric_cpu_s": cpu,
        "solve_s": t_solve,
        "logdet": ld,
        "gram": np.asarray(gram).tolist(),
        "peak_mb": peak - base,
        "nnz_l": cand.nnz_l(),
        "info": cand.info(),
    }
    return out


def _cpu_jiffies() -> float:
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    vals = [float(v) for v in parts]
    return sum(vals) - vals[3] - vals[4]  # minus idle and iowait


def run_one(
    design_path: Path, cand: str, reps: int, timeout: float, mem_gb: float, threads: int = 1
) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(design_path), cand, str(reps)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    j0, w0 = _cpu_jiffies(), time.perf_counter()

    def limit() -> None:
        nbytes = int(mem_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (nbytes, nbytes))

    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=limit,
            env={**os.environ, **{v: str(threads) for v in THREAD_VARS}},
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    wall = time.perf_counter() - w0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    hz = os.sysconf("SC_CLK_TCK")
    others = max(0.0, ((_cpu_jiffies() - j0) / hz - own) / wall)
    for line in proc.stdout.splitlines():
        if line.startswith(TAG):
            res: dict[str, Any] = json.loads(line[len(TAG) :])
            res["other_cpus"] = others
            return res
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": " | ".join(tail) or f"exit {proc.returncode}", "other_cpus": others}


def wait_idle(limit_s: float, threshold: float = 0.3) -> float:
    """Wait (up to ``limit_s``) until other programs use under ``threshold`` CPUs."""
    t_end = time.time() + limit_s
    hz = os.sysconf("SC_CLK_TCK")
    while True:
        j0 = _cpu_jiffies()
        time.sleep(2.0)
        busy = (_cpu_jiffies() - j0) / hz / 2.0
        if busy < threshold or time.time() > t_end:
            return busy


# --------------------------------------------------------------------------- the report


def design_stats(path: Path) -> dict[str, Any]:
    d = Design(path)
    C = d.C()
    CtC = (C.T @ C).tocsr()
    ni = np.diff(C.tocsc().indptr)  # subjects per item
    return {
        "n": d.n,
        "S": d.S,
        "I": d.I,
        "nnz_M": int(d.indices.size),
        "pairs": int(C.nnz),
        "schur_density": CtC.nnz / d.I**2,
        "subjects_per_item_max": int(ni.max()),
    }


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in ("numpy", "scipy", "cvxopt", "qdldl", "cholespy", "sksparse-minimal"):
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    try:
        from threadpoolctl import threadpool_info

        out["blas"] = "; ".join(
            f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads)"
            for i in threadpool_info()
        )
    except ImportError:
        pass
    return out


def machine() -> str:
    cpu = "unknown cpu"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = _meminfo_gb()
    return f"{os.cpu_count()} CPUs ({cpu}), {mem:.0f} GB, {platform.platform()}"


def _meminfo_gb() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                return float(line.split()[1]) / 2**20
    return float("nan")


def rel_err(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def fmt_s(x: float) -> str:
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def table(design: str, stats: dict[str, Any], results: dict[str, dict[str, Any]]) -> list[str]:
    ref_name = next(
        (c for c in ("dense_full", "dense_schur") if "logdet" in results.get(c, {})), None
    )
    if ref_name is None:
        ref_name = next(
            (c for c in ("cholmod", "mf_hybrid") if "logdet" in results.get(c, {})), None
        )
    ref = results.get(ref_name or "", {})
    lines = [
        f"### {design}: {stats['n']:,} rows, {stats['S']:,} subjects x {stats['I']:,} items",
        "",
        f"q = {stats['S'] + stats['I']:,}; nnz(M) = {stats['nnz_M']:,}; distinct "
        f"(subject, item) pairs {stats['pairs']:,}; the item Schur complement after "
        f"eliminating every subject (pattern of C'C) is {stats['schur_density']:.1%} dense; "
        f"the most popular item has {stats['subjects_per_item_max']:,} subjects.  "
        f"Errors are relative to `{ref_name}`.",
        "",
        "| candidate | symbolic s | numeric s / theta | its CPU s | solve s (3 rhs) | log det M | "
        "log det rel err | B'M⁻¹B rel err | nnz(L) | peak +MB | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        label = CANDIDATES[name].label
        if "error" in r:
            lines.append(f"| {label} | | | | | | | | | | {r['error'][:160]} |")
            continue
        num = r["numeric_s"]
        num_s = fmt_s(min(num)) + (
            f" (median {fmt_s(float(np.median(num)))})" if len(num) > 1 else ""
        )
        ld = r["logdet"]
        if ref and name != ref_name and np.isfinite(ld):
            e_ld = f"{rel_err(ld, ref['logdet']):.1e}"
            g, gr = np.asarray(r["gram"]), np.asarray(ref["gram"])
            e_g = f"{np.abs(g - gr).max() / np.abs(gr).max():.1e}"
        else:
            e_ld = e_g = "ref" if name == ref_name else "-"
            if name != ref_name and ref:
                g, gr = np.asarray(r["gram"]), np.asarray(ref["gram"])
                e_g = f"{np.abs(g - gr).max() / np.abs(gr).max():.1e}"
        notes = [
            f"{k} {v:,}" if isinstance(v, int) and not isinstance(v, bool) else f"{k}: {v}"
            for k, v in r["info"].items()
        ]
        if r.get("other_cpus", 0) >= 0.2:
            notes.append(f"other programs used {r['other_cpus']:.1f} CPUs")
        nnz = f"{r['nnz_l'] / 1e6:.2f}M" if r["nnz_l"] else "-"
        ld_s = f"{ld:.6f}" if np.isfinite(ld) else "n/a"
        lines.append(
            f"| {label} | {fmt_s(r['symbolic_s'])} | {num_s} "
            f"| {fmt_s(r['numeric_cpu_s'][int(np.argmin(num))])} | {fmt_s(r['solve_s'])} | {ld_s} "
            f"| {e_ld} | {e_g} | {nnz} | {r['peak_mb']:.0f} | {'; '.join(notes)} |"
        )
    return lines


def order_table(orders: dict[str, Any]) -> list[str]:
    if "error" in orders:
        return [f"Orderings: {orders['error']}"]
    lines = [
        "Fill of each elimination order (symbolic phase of our multifrontal; nnz(L) counts "
        "the fundamental supernodes, as CHOLMOD does):",
        "",
        "| order | ordering s | nnz(L) | GFlop per factorization | largest front |",
        "|---|---|---|---|---|",
    ]
    for name, o in orders.items():
        lines.append(
            f"| {name} | {fmt_s(o['order_s'])} | {o['nnz_l'] / 1e6:.2f}M | {o['gflop']:,} "
            f"| {o['largest_front']:,} |"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--designs", default=",".join(DESIGNS))
    ap.add_argument("--candidates", default="", help="comma-separated; default: the plan")
    ap.add_argument("--reps", type=int, default=3, help="numeric factorizations per candidate")
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--mem-gb", type=float, default=20.0, help="address-space limit per run")
    ap.add_argument("--wait-idle", type=float, default=0.0, help="seconds to wait for quiet")
    ap.add_argument(
        "--threads", type=int, default=1, help="BLAS threads per run (default 1: see the .md)"
    )
    ap.add_argument("--no-orderings", action="store_true", help="skip the fill table")
    ap.add_argument("--bench-kit", type=Path, default=DEFAULT_KIT)
    ap.add_argument("--data-dir", type=Path, default=BENCH_DIR / "data")
    ap.add_argument("--out", type=Path, default=BENCH_DIR / "sparse_cholesky_choice.md")
    ap.add_argument(
        "--child", nargs=3, metavar=("NPZ", "CANDIDATE", "REPS"), help=argparse.SUPPRESS
    )
    args = ap.parse_args(argv)
    if args.child:
        res = child(Path(args.child[0]), args.child[1], int(args.child[2]))
        print(TAG + json.dumps(res))
        return
    json_path = args.out.with_suffix(".json")
    previous: dict[str, Any] = json.loads(json_path.read_text()) if json_path.exists() else {}
    everything = previous.get("designs", {})
    wanted = [c for c in args.candidates.split(",") if c]
    for design in [d for d in args.designs.split(",") if d]:
        path = build_design(design, args.bench_kit, args.data_dir)
        stats = design_stats(path)
        entry = everything.setdefault(design, {"stats": stats, "results": {}})
        entry["stats"] = stats
        if not args.no_orderings:
            res = run_one(path, "orderings", 0, args.timeout, args.mem_gb, args.threads)
            entry["orderings"] = res.get("orderings", res)
            print(f"{design:14s} orderings: {json.dumps(entry['orderings'])[:300]}", flush=True)
        for cand in wanted or PLAN[design]:
            missing = [m for m in CANDIDATES[cand].needs if importlib.util.find_spec(m) is None]
            if missing:
                entry["results"][cand] = {"error": f"not installed: {', '.join(missing)}"}
                continue
            if args.wait_idle:
                wait_idle(args.wait_idle)
            res = run_one(path, cand, args.reps, args.timeout, args.mem_gb, args.threads)
            res["threads"] = args.threads
            entry["results"][cand] = res
            shown = res.get("error") or (
                f"sym {res['symbolic_s']:.2f}s num {min(res['numeric_s']):.2f}s "
                f"logdet {res['logdet']:.6f} peak +{res['peak_mb']:.0f} MB"
            )
            print(f"{design:14s} {cand:18s} {shown}", flush=True)
            json_path.write_text(
                json.dumps(
                    {"machine": machine(), "versions": versions(), "designs": everything}, indent=1
                )
            )
    write_md(args.out, everything, args.threads)


def write_md(path: Path, everything: dict[str, Any], threads: int) -> None:
    """Regenerate the tables below the marker; the text above it is kept as written."""
    marker = "<!-- generated tables below: do not edit by hand -->"
    head = path.read_text().split(marker, 1)[0] if path.exists() else "# Sparse Cholesky\n\n"
    lines = [
        marker,
        "",
        f"Machine: {machine()}.  Versions: "
        + ", ".join(f"{k} {v}" for k, v in versions().items())
        + f".  Every run: {threads} BLAS thread(s).",
        "",
    ]
    for design, entry in everything.items():
        lines += table(design, entry["stats"], entry["results"]) + [""]
        if "orderings" in entry:
            lines += order_table(entry["orderings"]) + [""]
    path.write_text(head + "\n".join(lines))


if __name__ == "__main__":
    main()
