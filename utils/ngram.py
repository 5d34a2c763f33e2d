"""Character n-gram language model with interpolated modified Kneser-Ney smoothing.

This is the count-based baseline the LSTM is compared against (in bits per
character). Everything is vectorised NumPy: there is no Python loop over
characters, only over the (at most 9) n-gram orders.

The Kneser-Ney idea
-------------------
A maximum-likelihood n-gram model gives probability 0 to every n-gram it has
not seen. Kneser-Ney fixes this in two ways:

1. **Absolute discounting with interpolation.** From every seen n-gram count
   ``c(h w)`` (context ``h`` of ``n-1`` symbols, next symbol ``w``) a small
   discount ``D`` is subtracted, and the mass freed this way is given to the
   next-lower-order model (context ``h'`` = ``h`` without its first symbol)::

       p_n(w | h) = (c(h w) - D(c(h w))) / c(h)  +  gamma(h) * p_{n-1}(w | h')
       gamma(h)   = (D1 N1(h .) + D2 N2(h .) + D3 N3+(h .)) / c(h)

   where ``c(h) = sum_w c(h w)`` and ``Nk(h .)`` is the number of distinct
   symbols that follow ``h`` exactly ``k`` times (``N3+``: 3 or more times).
   If ``h`` was never seen as a context, ``p_n(w | h) = p_{n-1}(w | h')``
   (all the weight goes to the lower order).
   *Modified* KN (Chen & Goodman) uses three discounts per order, one for
   n-grams seen once, twice, and three or more times, estimated from the
   counts-of-counts ``n_k`` (number of n-grams of that order seen k times)::

       Y = n1 / (n1 + 2 n2),  D1 = 1 - 2Y n2/n1,  D2 = 2 - 3Y n3/n2,  D3 = 3 - 4Y n4/n3

2. **Continuation counts for the lower orders.** A lower-order model is only
   consulted when the longer context did not settle the question, so it should
   reflect how many *different* contexts a string follows, not how often it
   occurs. Below the highest order, ``c(.)`` is therefore replaced by the
   continuation count ``N1+(. h w)``: the number of distinct symbols seen
   immediately before ``h w``. (E.g. "ork" is frequent only after "Y", so a
   novel context should not expect it.) The discounts of a lower order are
   estimated from the counts-of-counts of its continuation counts.

The unigram level is interpolated with the uniform distribution ``1 / V`` over
all ``vocab_size`` ids, so every id -- also ids never seen in training, such
as an ``[UNK]`` id -- gets a strictly positive probability, and every
predictive distribution sums to 1.

References
----------
R. Kneser and H. Ney (1995). Improved backing-off for M-gram language
modeling. ICASSP, vol. 1, pp. 181-184.
S. F. Chen and J. Goodman (1998). An empirical study of smoothing techniques
for language modeling. Technical Report TR-10-98, Harvard University.

Implementation notes
--------------------
An n-gram ``(x_1, ..., x_n)`` is encoded as the int64 key
``x_1 V^(n-1) + ... + x_n`` (base ``V = vocab_size``), so keys sort
lexicographically, the key of its context is ``key // V`` and of its suffix
``key % V^(n-1)``. Counts come from ``np.unique`` and look-ups use
``np.searchsorted`` on the sorted key tables.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from .checks import check_int

__all__ = ["KneserNeyLM", "select_order"]

_INT64_MAX = int(np.iinfo(np.int64).max)
# Discounts used when the counts-of-counts are too degenerate to estimate them
# (e.g. no n-gram of that order is seen exactly once or twice).
_FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)
# Discounts are kept >= this so that every seen context passes some mass down
# and every id keeps a probability > 0.
_MIN_DISCOUNT = 1e-3


def _check_ids(ids, vocab_size: int, name: str = "ids", allow_empty: bool = False) -> np.ndarray:
    """Validate a sequence of ids and return it as a 1-D int64 array.

    Inputs:
    - ids: array-like of integer ids, shape (T,)
    - vocab_size: int V; every id must lie in [0, V)
    - name: argument name used in error messages
    - allow_empty: whether T == 0 is allowed

    Returns:
    - ids: np.ndarray of shape (T,), dtype int64

    Raises TypeError for a non-integer dtype and ValueError for a wrong number of
    dimensions, an empty input (unless allowed) or ids out of range.
    """
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
    """Chen & Goodman's modified-KN discounts from one order's counts.

    Inputs:
    - counts: np.ndarray of shape (K,), positive integer counts of the K distinct
      n-grams of one order (raw counts at the highest order, continuation counts
      below it)

    Returns:
    - D: np.ndarray of shape (3,), float64: the discounts (D1, D2, D3+) for n-grams
      seen once, twice, and three or more times. Each D_k lies in
      [_MIN_DISCOUNT, k], which keeps every probability > 0 and every predictive
      distribution normalised; counts-of-counts too degenerate for the estimate
      fall back to _FALLBACK_DISCOUNTS.
    """
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
    """Find queries in a sorted table of unique keys.

    Inputs:
    - table: np.ndarray of shape (K,), sorted unique int64 keys, K >= 1
    - queries: np.ndarray of shape (Q,), int64 keys

    Returns a tuple of:
    - idx: np.ndarray of shape (Q,), int64 position of each query (valid only where found)
    - found: np.ndarray of shape (Q,), bool, whether the query is in the table
    """
    idx = np.searchsorted(table, queries)
    idx = np.minimum(idx, table.size - 1)
    return idx, table[idx] == queries


class KneserNeyLM:
    """Interpolated (modified) Kneser-Ney character n-gram LM over integer ids 0..vocab_size-1.

    A model of order N predicts the next id from (up to) the N-1 preceding ids.
    Order 1 is a unigram model interpolated with the uniform distribution.
    See the module docstring for the formulas.

    Attributes (after fit):
    - order: int N
    - vocab_size: int V
    - discounts_: np.ndarray of shape (N, 3), float64; row n-1 holds (D1, D2, D3+)
      for the n-grams of order n
    - unigram_: np.ndarray of shape (V,), float64, the smoothed order-1
      distribution (sums to 1, every entry > 0)
    - num_ngrams_: list of N ints, number of distinct n-grams stored per order
    """

    def __init__(self, order: int, vocab_size: int):
        """
        Inputs:
        - order: int >= 1, n-gram order N (the model conditions on up to N-1 ids)
        - vocab_size: int >= 1, number of ids V; valid ids are 0..V-1

        Raises TypeError for non-int arguments, ValueError for order < 1,
        vocab_size < 1, or vocab_size**order too large for int64 n-gram keys.
        """
        self.order = check_int(order, "order", 1)
        self.vocab_size = check_int(vocab_size, "vocab_size", 1)
        if self.vocab_size ** self.order - 1 > _INT64_MAX:  # largest key is V**N - 1
            raise ValueError(
                f"vocab_size**order = {self.vocab_size}**{self.order} does not fit the int64 "
                f"n-gram keys (max {_INT64_MAX}); use a smaller order or vocab_size"
            )
        self._fitted = False

    def __repr__(self) -> str:
        state = "fitted" if self._fitted else "unfitted"
        return f"KneserNeyLM(order={self.order}, vocab_size={self.vocab_size}, {state})"

    # ------------------------------------------------------------------ fitting
    def fit(self, ids: np.ndarray) -> "KneserNeyLM":
        """Count the n-grams of a training text and build the smoothed tables.

        Inputs:
        - ids: np.ndarray of shape (T,), integer dtype (int32/int64), T >= 1, every
          value in [0, vocab_size); the training text as one id sequence

        Returns:
        - self (fitted)
        """
        ids = _check_ids(ids, self.vocab_size)
        V, N, T = self.vocab_size, self.order, ids.size

        # Distinct n-gram keys of every order, top-down: the N-grams by sorting the
        # windows, the shorter ones as (already sorted) prefixes of the longer ones
        # plus the very last m-gram of the text, which is no prefix.
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
        self.num_ngrams_ = [0] * N

        # Orders 2..N (sparse tables).
        for m in range(2, N + 1):
            if m == N:
                keys, counts = types[N], top_counts
            else:  # continuation counts: #distinct ids preceding each m-gram
                keys, counts = np.unique(types[m + 1] % V ** m, return_counts=True)
            self.num_ngrams_[m - 1] = int(keys.size)
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
        self.num_ngrams_[0] = int(np.count_nonzero(counts1))
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
        """Keys of all length-n windows of ids (shape (T,), int64).

        Returns np.ndarray of shape (T-n+1,), int64; entry s encodes ids[s:s+n] in base V.
        """
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

    # ------------------------------------------------------------------ scoring
    def log_prob(self, ids: np.ndarray) -> np.ndarray:
        """Natural-log probability of every id given the ids before it.

        Target ids[i] (i >= 1) is predicted from ids[max(0, i-N+1):i], i.e. from
        up to N-1 preceding ids of the same array; near the start the shorter
        available context is used (the lower-order KN distribution).

        Inputs:
        - ids: np.ndarray of shape (T,), integer dtype, T >= 1, values in [0, vocab_size)

        Returns:
        - logp: np.ndarray of shape (T-1,), float64, log p(ids[i] | context) in
          nats for i = 1..T-1 (all finite and < 0 unless V == 1). Bits per
          character = -logp.mean() / np.log(2).
        """
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

    # Dense (num_contexts + 1, V) alpha tables are used by predict for the orders
    # whose table has at most this many entries (the low orders); the extra last
    # row is all zeros and serves unseen contexts.
    _DENSE_MAX_ENTRIES = 1 << 22

    def _dense_alpha(self, m: int) -> np.ndarray | None:
        """Dense alpha table of order m, shape (num_contexts + 1, V), or None if too large."""
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
        """Log-probability and most likely id for every target ids[1:].

        Target ids[i] (i >= 1) is predicted from ids[max(0, i-N+1):i], exactly as
        in log_prob; for every position the full predictive distribution over
        the V ids is built (vectorised over a chunk of positions, order by order)
        and both the target's log-probability and its argmax are read off it.
        Next-id accuracy = np.mean(argmax == ids[1:]).

        Inputs:
        - ids: np.ndarray of shape (T,), integer dtype, T >= 1, values in [0, vocab_size)
        - chunk_size: int >= 1, number of positions whose (chunk_size, V)
          distributions are held in memory at once

        Returns a tuple of:
        - logp: np.ndarray of shape (T-1,), float64, the same values as log_prob(ids)
        - argmax: np.ndarray of shape (T-1,), int64, argmax_v p(v | context) for
          each target (ties -> lowest id), equal to
          np.argmax(next_distribution(context))
        """
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
        """Distribution of the next id given a context.

        Inputs:
        - context: np.ndarray of shape (L,), integer dtype, values in [0, vocab_size);
          L may be 0 or anything; only the last min(L, N-1) ids are used

        Returns:
        - probs: np.ndarray of shape (V,), float64, p(next id = v | context); all
          entries > 0 and they sum to 1
        """
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
    """Fit one Kneser-Ney model per order and keep the best on validation data.

    Inputs:
    - train_ids: np.ndarray of shape (T_train,), integer dtype, values in [0, vocab_size)
    - valid_ids: np.ndarray of shape (T_valid,), integer dtype, T_valid >= 2, values
      in [0, vocab_size); scored with KneserNeyLM.log_prob (targets valid_ids[1:])
    - vocab_size: int V
    - orders: iterable of ints >= 1, the orders to try

    Returns a tuple of:
    - best: the fitted KneserNeyLM with the lowest validation bits per character
      (the lowest order wins ties)
    - results: pandas.DataFrame with one row per order and columns
      "order" (int), "valid_bpc" (float, bits per character on valid_ids[1:]) and
      "fit_s" (float, seconds spent in fit)
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
        bpc = float(-model.log_prob(valid_ids).mean() / np.log(2.0))
        rows.append({"order": int(order), "valid_bpc": bpc, "fit_s": fit_s})
        if bpc < best_bpc:
            best, best_bpc = model, bpc
    return best, pd.DataFrame(rows, columns=["order", "valid_bpc", "fit_s"])
