"""Sparse regression (STLSQ with a threshold sweep) and the linear systems it solves.

Two ways to turn sampled trajectories into a linear system ``G ξ = b``:

* the **weak form** (default; Messenger & Bortz, J. Comput. Phys. 2021, "Weak SINDy"):
  multiply ``dx/dt = Θ(x) ξ`` by a test function φ that vanishes at both ends of a window
  and integrate by parts, ``-∫ φ' x dt = ∫ φ Θ(x) dt ξ``; the data are never
  differentiated, so noise is averaged instead of amplified;
* **Savitzky–Golay** derivatives: a local polynomial fit per window gives a smoothed state
  and its derivative at the window centre (strong form).

The regression normalises the columns of ``G``, thresholds each term by its share of the
target (``|ξ_j| ‖G_j‖ / ‖b‖``), sweeps the threshold and keeps the support with the lowest
Bayesian information criterion, then refits that support by plain least squares so the
coefficients are not shrunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from neurosym.errors import ConfigurationError

__all__ = ["default_width", "savgol", "sparse_regression", "stlsq", "weak_form"]

Array = NDArray[np.float64]

_GRID = np.geomspace(1e-4, 0.5, 40)
"""Thresholds the sweep tries (shares of ‖b‖), besides the exact-fit support."""


def _lstsq(g: Array, b: Array, ridge: float) -> Array:
    if ridge > 0:
        a = g.T @ g + ridge * np.eye(g.shape[1])
        out: Array = np.asarray(np.linalg.solve(a, g.T @ b), dtype=np.float64)
        return out
    sol: Array = np.asarray(np.linalg.lstsq(g, b, rcond=None)[0], dtype=np.float64)
    return sol


def stlsq(
    g: Array,
    b: Array,
    *,
    threshold: float,
    ridge: float = 0.0,
    max_iter: int = 25,
    bnorm: float | None = None,
) -> Array:
    """Sequentially thresholded least squares for one target ``b`` (Brunton et al. 2016).

    Columns are normalised to unit norm; a term is dropped while ``|ξ_j| ‖G_j‖ / ‖b‖`` is
    below ``threshold``; the final support is refitted by plain least squares.

    Args:
        g: the library matrix ``(N, J)``.
        b: the target ``(N,)``.
        threshold: the share of ``‖b‖`` below which a term is dropped.
        ridge: ridge penalty on the normalised columns while thresholding.
        max_iter: thresholding rounds at most.
        bnorm: ``‖b‖`` of the original problem when ``(g, b)`` is its QR compression.

    Returns:
        The coefficients ``(J,)`` (zeros off the support).
    """
    norms = np.linalg.norm(g, axis=0)
    bnorm = float(np.linalg.norm(b)) if bnorm is None else bnorm
    coef = np.zeros(g.shape[1])
    if bnorm == 0.0:
        return coef
    active = norms > 0
    for _ in range(max_iter):
        if not active.any():
            return coef
        xi = _lstsq(g[:, active] / norms[active], b, ridge)
        keep = np.abs(xi) / bnorm >= threshold
        if keep.all():
            break
        idx = np.flatnonzero(active)
        active[idx[~keep]] = False
    if active.any():
        coef[active] = _lstsq(g[:, active], b, 0.0)
    return coef


def _bic(n: int, rss: float, k: int, floor: float) -> float:
    rss = max(rss, floor)
    return float(n * np.log(rss / n) + np.log(n) * k)


def sparse_regression(
    g: Array,
    bs: Array,
    *,
    threshold: float | None = None,
    ridge: float = 0.0,
    select: Literal["bic", "residual"] = "bic",
) -> tuple[Array, Array]:
    """STLSQ for each column of ``bs``; with ``threshold=None`` a sweep over thresholds.

    Args:
        g: the library matrix ``(N, J)``.
        bs: the targets ``(N, D)``.
        threshold: a fixed threshold, or ``None`` for the sweep.
        ridge: ridge penalty while thresholding.
        select: how the sweep picks a support. ``"bic"`` (targets from noisy data): the
            lowest Bayesian information criterion. ``"residual"`` (targets from a learned
            field, exact but for the model's own error): the sparsest support whose
            relative residual is within 10% (plus 1e-9) of the best in the sweep; an
            information criterion would keep terms that fit the network's wiggles.

    Returns:
        ``(coefficients (J, D), thresholds (D,))``, the thresholds actually used.
    """
    if g.shape[0] <= g.shape[1]:
        raise ConfigurationError(
            f"the regression has {g.shape[0]} equations for {g.shape[1]} library terms; give "
            "more samples (longer or more trajectories), a smaller window or a smaller library"
        )
    if not np.all(np.isfinite(g)) or not np.all(np.isfinite(bs)):
        raise ConfigurationError(
            "the library or the targets are not finite on the data (a term overflows or is "
            "undefined there, e.g. log of a negative state)"
        )
    # Every fit below lies in the column space of G, so it runs on the QR compression
    # (R, Qᵀb), J rows instead of N, with the residual outside that space added back.
    n = g.shape[0]
    q, r = np.linalg.qr(g)
    coefs, used = [], []
    for d in range(bs.shape[1]):
        b = bs[:, d]
        c = q.T @ b
        outside = float(np.sum((b - q @ c) ** 2))
        bnorm = float(np.linalg.norm(b))
        if threshold is not None:
            coefs.append(stlsq(r, c, threshold=threshold, ridge=ridge, bnorm=bnorm))
            used.append(threshold)
            continue
        floor = n * (1e-12 * float(np.sqrt(np.mean(b**2)))) ** 2
        sweep: list[tuple[float, int, float, Array]] = []  # (rss, terms, threshold, coef)
        seen: set[bytes] = set()
        for thr in _GRID:
            coef = stlsq(r, c, threshold=float(thr), ridge=ridge, bnorm=bnorm)
            key = (coef != 0).tobytes()
            if key not in seen:
                seen.add(key)
                rss = outside + float(np.sum((c - r @ coef) ** 2))
                sweep.append((rss, int(np.count_nonzero(coef)), float(thr), coef))
        if select == "bic":
            pick = min(sweep, key=lambda s: (round(_bic(n, s[0], s[1], floor), 9), s[1]))
        else:
            best = min(np.sqrt(s[0]) for s in sweep) / max(bnorm, 1e-300)
            ok = [s for s in sweep if np.sqrt(s[0]) / max(bnorm, 1e-300) <= 1.1 * best + 1e-9]
            pick = min(ok, key=lambda s: (s[1], s[0]))
        coefs.append(pick[3])
        used.append(pick[2])
    return np.stack(coefs, axis=1), np.array(used)


def _check_times(t: Array, n: int) -> None:
    if t.ndim != 1 or t.shape[0] != n:
        raise ConfigurationError(f"t must have shape ({n},) like the states, got {t.shape}")
    if not np.all(np.diff(t) > 0):
        raise ConfigurationError("t must be strictly increasing")


def default_width(ts: Sequence[Array], xs: Sequence[Array], *, fraction: float = 0.2) -> int:
    """A window of ``fraction`` of the data's median period, in samples (odd, >= 7).

    The median period is 1 / the frequency below which half the power of the centred
    states lies (the spectrum of the longest trajectory, at its mean sample spacing). The
    fraction 0.2 was chosen on the oscillator and Lorenz cases of docs/distill.md.
    """
    i = int(np.argmax([x.shape[0] for x in xs]))
    x = xs[i]
    n = x.shape[0]
    if n < 21:
        return 7
    power = np.sum(np.abs(np.fft.rfft(x - x.mean(axis=0), axis=0)) ** 2, axis=1)[1:]
    freq = np.fft.rfftfreq(n)[1:]  # cycles per sample
    if power.sum() <= 0:
        return 7
    cum = np.cumsum(power) / power.sum()
    period = 1.0 / freq[min(int(np.searchsorted(cum, 0.5)), freq.size - 1)]
    width = round(float(fraction * period)) | 1
    return max(7, min(width, int(n // 3) | 1))


def weak_form(
    ts: Sequence[Array], thetas: Sequence[Array], xs: Sequence[Array], *, width: int, power: int = 8
) -> tuple[Array, Array]:
    """The weak-form system ``G ξ = b`` over windows of ``width`` samples.

    Each window ``[a, b]`` carries φ(t) = ((t - a)(b - t) / ((b - a)/2)²)^power; windows
    start every ``max(1, width // 4)`` samples; integrals use the trapezoid rule, which is
    very accurate here because φ and its first ``power - 1`` derivatives vanish at both ends.

    Returns:
        ``(G, b)``: ``∫ φ Θ dt`` (rows: windows of all trajectories) and ``-∫ φ' x dt``.
    """
    rows_g, rows_b = [], []
    for t, theta, x in zip(ts, thetas, xs):
        _check_times(t, x.shape[0])
        if x.shape[0] < width:
            raise ConfigurationError(
                f"a trajectory has {x.shape[0]} samples, fewer than the window width {width}; "
                "pass a smaller width="
            )
        stride = max(1, width // 4)
        for start in range(0, x.shape[0] - width + 1, stride):
            sl = slice(start, start + width)
            tt = t[sl]
            a, b = tt[0], tt[-1]
            half = (b - a) / 2
            u = (tt - a) * (b - tt) / half**2
            phi = u**power
            dphi = power * u ** (power - 1) * (a + b - 2 * tt) / half**2
            w = np.zeros(width)
            dt = np.diff(tt)
            w[:-1] += dt / 2
            w[1:] += dt / 2
            rows_g.append((w * phi) @ theta[sl])
            rows_b.append(-(w * dphi) @ x[sl])
    return np.array(rows_g), np.array(rows_b)


def savgol(t: Array, x: Array, *, width: int, order: int = 3) -> tuple[Array, Array]:
    """Savitzky–Golay smoothing and derivative on uniform samples (window centres only).

    Returns:
        ``(x_smooth, dx)`` at samples ``width // 2 .. T - width // 2 - 1``.

    Raises:
        ConfigurationError: non-uniform times, an even width, or a width not above the order.
    """
    _check_times(t, x.shape[0])
    dt = np.diff(t)
    if np.max(np.abs(dt - dt.mean())) > 1e-6 * dt.mean():
        raise ConfigurationError("Savitzky–Golay derivatives need uniformly spaced t")
    if width % 2 == 0 or width <= order:
        raise ConfigurationError(f"width must be odd and > order={order}, got {width}")
    r = width // 2
    k = np.arange(-r, r + 1, dtype=np.float64) * dt.mean()
    pinv = np.linalg.pinv(np.vander(k, order + 1, increasing=True))
    n = x.shape[0] - 2 * r
    if n < 1:
        raise ConfigurationError(f"{x.shape[0]} samples are too few for a window of {width}")
    windows = np.stack([x[i : i + n] for i in range(width)], axis=0)  # (width, n, D)
    smooth = np.einsum("w,wnd->nd", pinv[0], windows)
    deriv = np.einsum("w,wnd->nd", pinv[1], windows)
    return smooth, deriv
