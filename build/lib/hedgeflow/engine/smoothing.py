"""Weighted cubic smoothing spline in numpy (the smile's total-variance smoother).

`smoothing_spline(x, y, err, z)` fits g to points (x_i, y_i) with errors err_i and
evaluates it at z. It follows FITPACK's `curfit` (what `scipy.interpolate.UnivariateSpline`
calls, whose import costs ~27 MB RSS and ~0.15 s through scipy.linalg/sparse/...) closely:

- the cubic polynomial least-squares fit first: if its weighted residual
  F = sum(((y_i - g(x_i)) / err_i)^2) is already <= s (here s = n, the smoothing
  condition of the smile), it is the fit, as in FITPACK;
- otherwise a cubic B-spline on fixed interior knots (data points evenly spaced by index,
  at least POINTS_PER_INTERVAL points per knot interval, at most MAX_INTERVALS intervals;
  more, up to a knot at almost every point, where even lambda -> 0 leaves F > s)
  minimizing sum(((y_i - g(x_i)) / err_i)^2) + lambda * sum(jumps of g''' at the interior
  knots)^2 -- FITPACK's smoothing norm, so lambda -> inf is the cubic polynomial -- with
  lambda found by a root search on log F against log lambda so that F = s (to 0.1 %);
  if even the finest knots leave F > s, the nearly unpenalized fit on them is returned
  (FITPACK warns and returns its best there too).

The knots differ from FITPACK's adaptive ones, so the fits differ by a fraction of the
errors where the polynomial does not suffice. Units are those of y; x must be strictly
increasing and finite, err > 0.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

MAX_INTERVALS = 40
POINTS_PER_INTERVAL = 4
# bracket of lambda (times trace(G)/trace(P), the scale at which data and penalty weigh
# alike) for the root search: from an essentially unpenalized to an essentially cubic fit
LOG10_LAMBDA_RANGE = (-12.0, 8.0)
# |log(F/s)| at which the root search stops: F within 0.1 % of s
LOG_F_TOL = 1e-3
MAX_ITERATIONS = 40


def _matvec(a: np.ndarray, v: np.ndarray) -> NDArray[np.float64]:
    """a @ v without BLAS: on these small products multithreaded OpenBLAS leaves its
    threads spinning after each call, which cost the monitor ~5 % of a core."""
    out: NDArray[np.float64] = np.einsum("ij,j->i", a, v)
    return out


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.einsum("i,i->", a, b))


def _basis(t: np.ndarray, z: np.ndarray, i: np.ndarray) -> np.ndarray:
    """The four nonzero cubic B-splines (len(z), 4) at z, with t[i] <= z <= t[i+1]
    (de Boor's triangular recursion, vectorized over z; no division by zero for knot
    spans of positive length)."""
    nb = [np.ones_like(z)]
    left = [z, *(z - t[i + 1 - d] for d in (1, 2, 3))]
    right = [z, *(t[i + d] - z for d in (1, 2, 3))]
    for d in (1, 2, 3):
        saved = np.zeros_like(z)
        new = []
        for r in range(d):
            temp = nb[r] / (right[r + 1] + left[d - r])
            new.append(saved + right[r + 1] * temp)
            saved = left[d - r] * temp
        new.append(saved)
        nb = new
    return np.stack(nb, axis=1)


def _band(u: np.ndarray, t: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The B-spline design at z as a band: the first nonzero column j (len(z),) and the
    four nonzero values (len(z), 4) of each row, z clamped to [u[0], u[-1]] by the span
    choice (z outside extrapolates the end polynomial pieces)."""
    # (the span index in [-1, u.size - 1] clamped to [0, u.size - 2]: np.clip's result
    # without its wrapper)
    j = np.minimum(np.maximum(np.searchsorted(u, z, side="right") - 1, 0), u.size - 2)
    return j, _basis(t, z, j + 3)


def _dense(j: np.ndarray, values: np.ndarray, m: int) -> np.ndarray:
    """The dense (len(j), m) design matrix of a band (`_band`)."""
    b = np.zeros((j.size, m))
    b[np.arange(j.size)[:, None], j[:, None] + np.arange(4)] = values
    return b


def _design(u: np.ndarray, t: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Dense B-spline design matrix (len(z), len(u) + 2) at z (see `_band`)."""
    return _dense(*_band(u, t, z), u.size + 2)


def _band_gram(j: np.ndarray, values: np.ndarray, m: int) -> np.ndarray:
    """B^T B (m, m) of a banded B (row k: `values[k]` from column j[k] on, zeros elsewhere;
    e.g. `_band` times the weights), from the products of each row's band values: each
    entry sums its row terms in row order, as the dense product does (its other terms are
    exact zeros), without the dense pass over the zeros (16 of 43^2 products a row)."""
    cols = j[:, None] + np.arange(values.shape[1])
    cells = (cols[:, :, None] * m + cols[:, None, :]).ravel()
    products = (values[:, :, None] * values[:, None, :]).ravel()
    return np.bincount(cells, weights=products, minlength=m * m).reshape(m, m)


def _third_derivative(t: np.ndarray, m: int) -> np.ndarray:
    """Matrix (m - 3, m) from the m cubic B-spline coefficients on knots t to g''' on each
    knot interval (the derivative of a spline is a spline of one degree less, with
    coefficients p (c_{i+1} - c_i) / (t_{i+p+1} - t_{i+1}))."""
    d = np.eye(m)
    for p in (3, 2, 1):
        q = d.shape[0]
        d = (p / (t[p + 1 : p + q] - t[1:q]))[:, None] * (d[1:] - d[:-1])
        t = t[1:-1]
    return d


def smoothing_spline(
    x: np.ndarray, y: np.ndarray, err: np.ndarray, z: np.ndarray, s: float | None = None
) -> tuple[np.ndarray, float]:
    """Smoothing spline of (x, y) with errors err evaluated at z (z within [x[0], x[-1]]).

    s is the smoothing condition on F = sum(((y_i - g(x_i)) / err_i)^2), default n.
    Returns (g(z), F of the fit).
    """
    n = x.size
    target = float(n if s is None else s)
    wt = 1.0 / err
    yw = y * wt
    # the cubic polynomial in a scaled variable (conditioning): FITPACK's first candidate
    x0, span = x[0], x[-1] - x[0]
    sx = (x - x0) / span
    vw = np.stack((np.ones_like(sx), sx, sx * sx, sx * sx * sx), axis=1) * wt[:, None]
    c, *_ = np.linalg.lstsq(vw, yw, rcond=None)
    r = yw - _matvec(vw, c)
    f = float(_dot(r, r))
    if f <= target or n < 2 * POINTS_PER_INTERVAL:
        sz = (z - x0) / span
        return ((c[3] * sz + c[2]) * sz + c[1]) * sz + c[0], f

    # knots: MAX_INTERVALS intervals at most (FITPACK's fits rarely need more); where
    # even the nearly unpenalized fit misses the condition, twice as many, up to a knot at
    # almost every point (FITPACK adds knots there too, up to interpolation)
    n_int = int(min(MAX_INTERVALS, n // POINTS_PER_INTERVAL))
    xz = np.concatenate((x, z))
    while True:
        u, t = _knots(x, n_int)
        # the design at the data and at z in one pass (each row depends on its point only)
        j, values = _band(u, t, xz)
        coef, f = _fit_on_knots(t, wt, yw, target, j[:n], values[:n])
        if f <= target * (1.0 + 2.0 * LOG_F_TOL) or n_int >= n - 3:
            break
        n_int = min(2 * n_int, n - 3)
    return _matvec(_dense(j[n:], values[n:], n_int + 3), coef), f


def _knots(x: np.ndarray, n_int: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct knots (n_int intervals, data points evenly spaced by index) and the
    full knot vector (the ends repeated three times more)."""
    u = x[np.linspace(0, x.size - 1, n_int + 1).round().astype(np.intp)]
    return u, np.concatenate((np.full(3, u[0]), u, np.full(3, u[-1])))


def _penalized_fit(
    x: np.ndarray, wt: np.ndarray, yw: np.ndarray, n_int: int, target: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Penalized cubic B-spline on n_int knot intervals (`_knots`) with lambda such that
    F = target where possible. Returns (distinct knots, full knot vector, coefficients, F)."""
    u, t = _knots(x, n_int)
    coef, f = _fit_on_knots(t, wt, yw, target, *_band(u, t, x))
    return u, t, coef, f


def _fit_on_knots(
    t: np.ndarray,
    wt: np.ndarray,
    yw: np.ndarray,
    target: float,
    j: np.ndarray,
    values: np.ndarray,
) -> tuple[np.ndarray, float]:
    """`_penalized_fit` on the full knot vector t, given the design at the data as a band
    (`_band`). Returns (coefficients, F)."""
    m = t.size - 4
    band_w = values * wt[:, None]
    bw = _dense(j, band_w, m)
    gram = _band_gram(j, band_w, m)
    rhs = np.einsum("ki,k->i", bw, yw)
    # the jumps of the third derivative at the interior knots: row k is nonzero on
    # columns k..k+4 only
    jumps = np.diff(_third_derivative(t, m), axis=0)
    rows = np.arange(jumps.shape[0])
    pen = _band_gram(rows, jumps[rows[:, None], rows[:, None] + np.arange(5)], m)
    # no interior knot: no penalty (the fit is the cubic whatever lambda)
    tr_pen = float(np.trace(pen))
    scale = float(np.trace(gram)) / tr_pen if tr_pen > 0 else 1.0

    a = np.empty_like(gram)  # G + lambda P, rebuilt in place at each lambda

    def fit(log_lam: float) -> tuple[np.ndarray, float]:
        np.multiply(pen, 10.0**log_lam * scale, out=a)
        np.add(a, gram, out=a)  # (the same sum as gram + lambda * pen, element by element)
        try:
            cc = np.linalg.solve(a, rhs)
        except np.linalg.LinAlgError:  # singular at a tiny lambda: minimum-norm fit
            cc = np.linalg.lstsq(a, rhs, rcond=None)[0]
        rr = yw - _matvec(bw, cc)
        return cc, float(_dot(rr, rr))

    lo, hi = LOG10_LAMBDA_RANGE
    coef, f = fit(lo)
    if f < target:
        f_lo = max(f, 1e-300)  # an exact fit: log(0) would stall the root search
        coef, f = fit(hi)
        if f > target:
            # Illinois regula falsi on log(F / s), increasing in log lambda
            g_lo, g_hi = float(np.log(f_lo / target)), float(np.log(f / target))
            side = 0
            for _ in range(MAX_ITERATIONS):
                mid = (lo * g_hi - hi * g_lo) / (g_hi - g_lo)
                coef, f = fit(mid)
                g = float(np.log(f / target))
                if abs(g) < LOG_F_TOL:
                    break
                if g > 0:
                    hi, g_hi = mid, g
                    if side == -1:
                        g_lo /= 2
                    side = -1
                else:
                    lo, g_lo = mid, g
                    if side == 1:
                        g_hi /= 2
                    side = 1
    return coef, f
