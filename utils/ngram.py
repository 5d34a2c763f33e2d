"""Character n-gram language model with interpolated modified Kneser-Ney smoothing (vectorised NumPy).

From each seen n-gram count ``c(h w)`` a discount ``D`` is subtracted and the freed mass goes to
the next-lower order (context ``h'``, ``h`` without its first symbol)::

    p_n(w | h) = (c(h w) - D(c(h w))) / c(h) + gamma(h) p_(n-1)(w | h')
    gamma(h) = (D1 N1(h .) + D2 N2(h .) + D3 N3+(h .)) / c(h)

with ``Nk(h .)`` the number of symbols seen k times (3+: at least 3) after ``h``; an unseen context
passes all weight down. From the counts-of-counts ``n_k`` of an order (Chen & Goodman 1998):
``Y = n1 / (n1 + 2 n2)``, ``Dk = k - (k + 1) Y n_(k+1) / n_k``. Below the top order, counts are
continuation counts (Kneser & Ney 1995): the distinct symbols seen before ``h w``. The unigrams are
interpolated with ``1 / V``, so every id has a probability > 0. An n-gram is stored as the int64 key
``x_1 V^(n-1) + ... + x_n``; its context's key is ``key // V``.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from .checks import check_int
from .units import LN2

__all__ = ["KneserNeyLM", "select_order"]

_INT64_MAX = int(np.iinfo(np.int64).max)
_FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)  # where the counts-of-counts cannot give an estimate
_MIN_DISCOUNT = 1e-3  # every seen context passes some mass down


def _check_ids(ids, vocab_size: int, name: str = "ids", allow_empty: bool = False) -> np.ndarray:
    """``ids`` as 1-D int64; TypeError for another dtype, ValueError for another shape or range."""
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        if allow_empty:
            return np.zeros(0, dtype=np.int64)
        raise ValueError(f"{name} must not be empty")
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must have an integer dtype (e.g. int32/int64), got {arr.dtype}")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= vocab_size:
        raise ValueError(
            f"{name} must lie in [0, vocab_size={vocab_size}), got values in [{lo}, {hi}]"
        )
    return arr.astype(np.int64, copy=False)


def _modified_discounts(counts: np.ndarray) -> np.ndarray:
    """The discounts ``(D1, D2, D3+)``, float64 ``(3,)``, from the counts of one order, ``Dk`` clipped to
    ``[_MIN_DISCOUNT, k]``."""
    n = np.bincount(np.minimum(counts, 5), minlength=6).astype(np.float64)  # n[k] = #n-grams seen k times
    D = np.array(_FALLBACK_DISCOUNTS, dtype=np.float64)
    if n[1] > 0 and n[2] > 0:
        Y = n[1] / (n[1] + 2.0 * n[2])
        D[0] = 1.0 - 2.0 * Y * n[2] / n[1]
        if n[3] > 0:
            D[1] = 2.0 - 3.0 * Y * n[3] / n[2]
            if n[4] > 0:
                D[2] = 3.0 - 4.0 * Y * n[4] / n[3]
    return np.clip(D, _MIN_DISCOUNT, np.array([1.0, 2.0, 3.0]))


def _lookup(table: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(idx, found)``: where each query is in a sorted table of unique keys, and whether it is there."""
    idx = np.searchsorted(table, queries)
    idx = np.minimum(idx, table.size - 1)
    return idx, table[idx] == queries


class KneserNeyLM:
    """Interpolated modified Kneser-Ney model of order N = ``order`` over ids ``0 .. vocab_size-1``: it
    predicts an id from up to N-1 preceding ids.

    Attributes:
        discounts_: float64 ``(N, 3)``, after :meth:`fit`: row n-1 holds order n's ``(D1, D2, D3+)``.
        unigram_: float64 ``(V,)``, after :meth:`fit`: the smoothed order-1 distribution.

    Raises:
        ValueError: a bad ``order`` or ``vocab_size``, or ``V ** N`` too large for int64 keys.
    """

    def __init__(self, order: int, vocab_size: int):
        self.order = check_int(order, "order", 1)
        self.vocab_size = check_int(vocab_size, "vocab_size", 1)
        if self.vocab_size ** min(self.order, 64) - 1 > _INT64_MAX:  # largest key V**N - 1; V > 1: N < 64
            raise ValueError(
                f"vocab_size**order = {self.vocab_size}**{self.order} does not fit the int64 "
                f"n-gram keys (max {_INT64_MAX}); use a smaller order or vocab_size"
            )
        self._fitted = False

    def __repr__(self) -> str:
        state = "fitted" if self._fitted else "unfitted"
        return f"KneserNeyLM(order={self.order}, vocab_size={self.vocab_size}, {state})"

    def fit(self, ids: np.ndarray) -> KneserNeyLM:
        """Count the n-grams of a training text ``ids`` (int ``(T,)``, T >= 1); returns self."""
        ids = _check_ids(ids, self.vocab_size)
        V, N, T = self.vocab_size, self.order, ids.size

        # Distinct keys of every order, top-down: the N-grams sorted, each shorter order as the
        # prefixes of the next longer one, plus the text's last m-gram, which is no prefix.
        types: dict[int, np.ndarray] = {}
        top_counts = None
        if N >= 2:
            windows = self._window_keys(ids, N, V)  # key of ids[s:s+N] for every start s
            types[N], top_counts = np.unique(windows, return_counts=True)
            del windows
            for m in range(N - 1, 1, -1):
                prefixes = types[m + 1] // V
                keep = np.ones(prefixes.size, dtype=bool)
                keep[1:] = prefixes[1:] != prefixes[:-1]
                prefixes = prefixes[keep]
                if T >= m:
                    last = int(self._window_keys(ids[T - m :], m, V)[0])
                    pos = int(np.searchsorted(prefixes, last))
                    if pos == prefixes.size or prefixes[pos] != last:
                        prefixes = np.insert(prefixes, pos, last)
                types[m] = prefixes

        self.discounts_ = np.zeros((N, 3), dtype=np.float64)
        self._keys: dict[int, np.ndarray] = {}    # order m -> sorted m-gram keys
        self._alpha: dict[int, np.ndarray] = {}   # order m -> (c(hw) - D) / c(h)
        self._ctx: dict[int, np.ndarray] = {}     # order m -> sorted context keys h
        self._gamma: dict[int, np.ndarray] = {}   # order m -> backoff weight gamma(h)
        self._span: dict[int, np.ndarray] = {}    # order m -> n-grams of context j: keys[span[j]:span[j+1]]
        self._dense: dict[int, np.ndarray] = {}   # order m -> dense alpha table (built lazily by predict)

        # Orders 2..N (sparse tables).
        for m in range(2, N + 1):
            if m == N:
                keys, counts = types[N], top_counts
            else:  # continuation counts: #distinct ids preceding each m-gram
                keys, counts = np.unique(types[m + 1] % V ** m, return_counts=True)
            if keys.size == 0:
                continue
            D = _modified_discounts(counts)
            self.discounts_[m - 1] = D
            cls = np.minimum(counts, 3) - 1                     # 0, 1, 2 for D1, D2, D3+
            ctx_all = keys // V                                 # sorted because keys are
            start = np.ones(keys.size, dtype=bool)
            start[1:] = ctx_all[1:] != ctx_all[:-1]
            starts = np.flatnonzero(start)
            group = np.cumsum(start) - 1                        # context index of each n-gram
            c_h = np.add.reduceat(counts, starts).astype(np.float64)
            n_k = np.stack([np.add.reduceat((cls == k).astype(np.int64), starts) for k in range(3)])
            self._keys[m] = keys
            self._alpha[m] = (counts - D[cls]) / c_h[group]
            self._ctx[m] = ctx_all[starts]
            self._span[m] = np.append(starts, keys.size).astype(np.int64)
            self._gamma[m] = (D @ n_k) / c_h

        # Order 1 (dense): raw counts for a unigram model, else continuation counts.
        if N == 1:
            counts1 = np.bincount(ids, minlength=V)
        else:
            counts1 = np.bincount(types[2] % V, minlength=V) if types[2].size else np.zeros(V, np.int64)
        total = counts1.sum()
        if total == 0:
            self.discounts_[0] = _FALLBACK_DISCOUNTS
            self.unigram_ = np.full(V, 1.0 / V)
        else:
            D = _modified_discounts(counts1[counts1 > 0])
            self.discounts_[0] = D
            cls = np.minimum(counts1, 3) - 1
            disc = np.where(counts1 > 0, D[np.maximum(cls, 0)], 0.0)
            seen_classes = np.bincount(cls[counts1 > 0], minlength=3)
            gamma = float(D @ seen_classes) / total
            self.unigram_ = (counts1 - disc) / total + gamma / V
        self._fitted = True
        return self

    @staticmethod
    def _window_keys(ids: np.ndarray, n: int, V: int) -> np.ndarray:
        """int64 ``(T-n+1,)``: the key of ``ids[s:s+n]`` for every start s."""
        T = ids.size
        if T < n:
            return np.zeros(0, dtype=np.int64)
        keys = ids[: T - n + 1].copy()
        for j in range(1, n):
            keys *= V
            keys += ids[j : T - n + 1 + j]
        return keys

    def _check_fitted(self) -> None:
        if not getattr(self, "_fitted", False):
            raise RuntimeError("KneserNeyLM is not fitted yet; call fit(train_ids) first")

    def log_prob(self, ids: np.ndarray) -> np.ndarray:
        """Log-probability (nats), float64 ``(T-1,)``, of each ``ids[i]``, i >= 1, given the ids before it."""
        self._check_fitted()
        ids = _check_ids(ids, self.vocab_size)
        V, T = self.vocab_size, ids.size
        p = self.unigram_[ids]                # p[i]: probability of ids[i], updated order by order
        gram = ids.copy()                     # gram[i]: key of the (m-1)-gram ending at i
        for m in range(2, self.order + 1):
            if T < m:
                break
            ctx = gram[m - 2 : T - 1].copy()  # (m-1)-grams ending at i-1, targets i >= m-1
            gram[m - 1 :] += ids[: T - m + 1] * V ** (m - 1)  # now gram[i]: m-gram ending at i
            if m not in self._keys:
                continue
            ci, cfound = _lookup(self._ctx[m], ctx)
            gi, gfound = _lookup(self._keys[m], gram[m - 1 :])
            alpha = np.where(gfound, self._alpha[m][gi], 0.0)
            tail = p[m - 1 :]
            p[m - 1 :] = np.where(cfound, alpha + self._gamma[m][ci] * tail, tail)
        return np.log(p[1:])

    # predict uses dense (contexts + 1, V) alpha tables up to this size; the last row serves unseen contexts

    _DENSE_MAX_ENTRIES = 1 << 22

    def _dense_alpha(self, m: int) -> np.ndarray | None:
        """Dense alpha table of order m, ``(contexts + 1, V)``, or None if too large."""
        if m in self._dense:
            return self._dense[m]
        V, n_ctx = self.vocab_size, self._ctx[m].size
        table = None
        if (n_ctx + 1) * V <= self._DENSE_MAX_ENTRIES:
            keys = self._keys[m]
            table = np.zeros((n_ctx + 1, V), dtype=np.float64)
            rows = np.repeat(np.arange(n_ctx), np.diff(self._span[m]))
            table[rows, keys % V] = self._alpha[m]
        self._dense[m] = table
        return table

    def predict(self, ids: np.ndarray, chunk_size: int = 65536) -> tuple[np.ndarray, np.ndarray]:
        """``(logp, argmax)`` of every target ``ids[1:]``: float64 ``(T-1,)`` as :meth:`log_prob`, and the
        likeliest ids, int64 ``(T-1,)`` (ties: the lowest); ``chunk_size`` positions at a time."""
        self._check_fitted()
        ids = _check_ids(ids, self.vocab_size)
        chunk_size = check_int(chunk_size, "chunk_size", 1)
        V, N, T = self.vocab_size, self.order, ids.size
        logp = np.empty(T - 1, dtype=np.float64)
        best = np.empty(T - 1, dtype=np.int64)
        for a in range(1, T, chunk_size):             # targets a..b-1
            b = min(T, a + chunk_size)
            P = np.tile(self.unigram_, (b - a, 1))    # P[r]: distribution for target a + r
            flat = P.reshape(-1)
            hk = np.zeros(b - a, dtype=np.int64)      # hk[r]: key of the (m-1)-id context of target a + r
            for m in range(2, N + 1):
                first = max(a, m - 1)                 # targets i >= m-1 have m-1 ids of context
                if first >= b:
                    break
                s = first - a
                hk[s:] += ids[first - m + 1 : b - m + 1] * V ** (m - 2)
                if m not in self._keys:
                    continue
                ci, found = _lookup(self._ctx[m], hk[s:])
                sub = P[s:]
                # p <- alpha + gamma * p where the context was seen, unchanged elsewhere
                sub *= np.where(found, self._gamma[m][ci], 1.0)[:, None]
                dense = self._dense_alpha(m)
                if dense is not None:
                    sub += dense[np.where(found, ci, dense.shape[0] - 1)]
                    continue
                rows = np.flatnonzero(found)
                cj = ci[rows]
                lo = self._span[m][cj]
                cnt = self._span[m][cj + 1] - lo
                offs = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt) + np.arange(int(cnt.sum()))
                cells = np.repeat((rows + s) * V, cnt) + self._keys[m][offs] % V
                flat[cells] += self._alpha[m][offs]   # cells are distinct
            logp[a - 1 : b - 1] = np.log(P[np.arange(b - a), ids[a:b]])
            best[a - 1 : b - 1] = P.argmax(axis=1)
        return logp, best

    def next_distribution(self, context: np.ndarray) -> np.ndarray:
        """``p(next id | context)``, float64 ``(V,)``, for int ``context`` ``(L,)`` (its last N-1 ids)."""
        self._check_fitted()
        context = _check_ids(context, self.vocab_size, name="context", allow_empty=True)
        V = self.vocab_size
        h = context[max(0, context.size - (self.order - 1)) :] if self.order > 1 else context[:0]
        p = self.unigram_.copy()
        cand = np.arange(V, dtype=np.int64)
        for m in range(2, h.size + 2):
            if m not in self._keys:
                continue
            hk = 0
            for x in h[h.size - (m - 1) :]:
                hk = hk * V + int(x)
            ci, cfound = _lookup(self._ctx[m], np.array([hk], dtype=np.int64))
            if not cfound[0]:
                continue
            gi, gfound = _lookup(self._keys[m], hk * V + cand)
            alpha = np.where(gfound, self._alpha[m][gi], 0.0)
            p = alpha + self._gamma[m][ci[0]] * p
        return p


def select_order(train_ids, valid_ids, vocab_size, orders=range(1, 9)):
    """Fit one model per order and keep the one with the lowest validation bits per character.

    Returns:
        ``(best, results)``: the best fitted :class:`KneserNeyLM` (ties: the lowest order) and one row
        per order: ``order``, ``valid_bpc`` and ``fit_s`` (seconds in ``fit``).

    Raises:
        ValueError: no order, or fewer than 2 validation ids.
    """
    orders = list(orders)
    if not orders:
        raise ValueError("orders must contain at least one order")
    valid_ids = np.asarray(valid_ids)
    if valid_ids.ndim == 1 and valid_ids.size < 2:
        raise ValueError("valid_ids must contain at least 2 ids (one target)")
    rows, best, best_bpc = [], None, np.inf
    for order in orders:
        model = KneserNeyLM(order, vocab_size)
        t0 = time.perf_counter()
        model.fit(train_ids)
        fit_s = time.perf_counter() - t0
        bpc = float(-model.log_prob(valid_ids).mean() / LN2)
        rows.append({"order": int(order), "valid_bpc": bpc, "fit_s": fit_s})
        if bpc < best_bpc:
            best, best_bpc = model, bpc
    return best, pd.DataFrame(rows, columns=["order", "valid_bpc", "fit_s"])
