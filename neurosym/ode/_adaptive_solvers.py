"""Embedded explicit pairs with step control: Bogacki–Shampine 3(2), Dormand–Prince 5(4)
and Tsitouras 5(4).

All three are first-same-as-last: the last stage is ``f`` at the new state and is reused
as the first stage of the next step.
"""

from __future__ import annotations

from typing import ClassVar, final

from ._solver import AbstractExplicitRK, ButcherTableau

__all__ = ["Bosh3", "Dopri5", "Tsit5"]


@final
class Bosh3(AbstractExplicitRK):
    """Bogacki–Shampine 3(2) (Bogacki & Shampine 1989), cubic Hermite dense output."""

    order: ClassVar[int] = 3
    error_order: ClassVar[int | None] = 2
    name: ClassVar[str] = "bosh3"
    tableau: ClassVar[ButcherTableau] = ButcherTableau(
        c=(0.0, 0.5, 0.75, 1.0),
        a=((0.5,), (0.0, 0.75), (2 / 9, 1 / 3, 4 / 9)),
        b=(2 / 9, 1 / 3, 4 / 9, 0.0),
        b_err=(2 / 9 - 7 / 24, 1 / 3 - 1 / 4, 4 / 9 - 1 / 3, -1 / 8),
    )


def _dopri5_mid() -> tuple[float, ...]:
    # Shampine's (1986) continuous extension of Dormand–Prince evaluated at θ = 1/2:
    # y(θ) = y0 + θ(r2 + (1-θ)(r3 + θ(r4 + (1-θ) r5))), with r2 = Σ b k, r3 = k1 - r2,
    # r4 = r2 - k7 - r3 and r5 = Σ d k (Hairer, Nørsett & Wanner, Solving ODEs I, II.6).
    d = (
        -12715105075 / 11282082432,
        0.0,
        87487479700 / 32700410799,
        -10690763975 / 1880347072,
        701980252875 / 199316789632,
        -1453857185 / 822651844,
        69997945 / 29380423,
    )
    th = 0.5
    out = []
    for i, (bi, di) in enumerate(zip(_DOPRI5_B, d)):
        r2 = bi
        r3 = (1.0 if i == 0 else 0.0) - r2
        r4 = r2 - (1.0 if i == 6 else 0.0) - r3
        out.append(th * (r2 + (1 - th) * (r3 + th * (r4 + (1 - th) * di))))
    return tuple(out)


_DOPRI5_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)


@final
class Dopri5(AbstractExplicitRK):
    """Dormand–Prince 5(4) (Dormand & Prince 1980), the ``dopri5``/``RK45`` workhorse.

    Dense output is the quartic through both ends and Shampine's fifth-order midpoint.
    """

    order: ClassVar[int] = 5
    error_order: ClassVar[int | None] = 4
    dense_order: ClassVar[int] = 4
    name: ClassVar[str] = "dopri5"
    tableau: ClassVar[ButcherTableau] = ButcherTableau(
        c=(0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0),
        a=(
            (1 / 5,),
            (3 / 40, 9 / 40),
            (44 / 45, -56 / 15, 32 / 9),
            (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
            (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
            _DOPRI5_B[:6],
        ),
        b=_DOPRI5_B,
        b_err=(
            71 / 57600,
            0.0,
            -71 / 16695,
            71 / 1920,
            -17253 / 339200,
            22 / 525,
            -1 / 40,
        ),
        c_mid=_dopri5_mid(),
    )


def _row(c: float, rest: tuple[float, ...]) -> tuple[float, ...]:
    # The first column is c minus the others, so each row sums to its node exactly.
    return (c - sum(rest), *rest)


_TSIT5_C = (0.0, 0.161, 0.327, 0.9, 0.9800255409045097, 1.0, 1.0)
_TSIT5_B = (
    0.09646076681806523,
    0.01,
    0.4798896504144996,
    1.379008574103742,
    -3.290069515436081,
    2.324710524099774,
    0.0,
)


def _poly(*factors: tuple[float, ...]) -> list[float]:
    """Coefficients (lowest power first) of a product of polynomials."""
    out = [1.0]
    for f in factors:
        prod = [0.0] * (len(out) + len(f) - 1)
        for i, x in enumerate(out):
            for j, y in enumerate(f):
                prod[i + j] += x * y
        out = prod
    return out


def _tsit5_dense() -> tuple[tuple[float, ...], ...]:
    # Tsitouras (2011), the free fourth-order continuous extension: b_i(θ) in factored
    # form, expanded into the rows P[j] (coefficient of θ^(j+1)) that the solvers use.
    # It meets every order condition up to order 4 for all θ and equals b at θ = 1
    # (tests/ode/test_dense_output.py checks both from the tableau).
    th = (0.0, 1.0)
    th2 = (0.0, 0.0, 1.0)
    b = [
        _poly(
            (-1.0530884977290216,),
            th,
            (-1.3299890189751412, 1.0),
            (0.7139816917074209, -1.4364028541716351, 1.0),
        ),
        _poly((0.1017,), th2, (1.2949852507374631, -2.1966568338249754, 1.0)),
        _poly((2.490627285651252793,), th2, (1.57803468208092486, -2.38535645472061657, 1.0)),
        _poly(
            (-16.54810288924490272,), th2, (-1.21712927295533244, 1.0), (-0.61620406037800089, 1.0)
        ),
        _poly(
            (47.37952196281928122,), th2, (-1.203071208372362603, 1.0), (-0.658047292653547382, 1.0)
        ),
        _poly((-34.87065786149660974,), th2, (-1.2, 1.0), (-2 / 3, 1.0)),
        _poly((2.5,), th2, (-1.0, 1.0), (-0.6, 1.0)),
    ]
    return tuple(tuple(bi[p] if p < len(bi) else 0.0 for bi in b) for p in range(1, 5))


@final
class Tsit5(AbstractExplicitRK):
    """Tsitouras 5(4) (Tsitouras 2011) with its own fourth-order continuous extension."""

    order: ClassVar[int] = 5
    error_order: ClassVar[int | None] = 4
    dense_order: ClassVar[int] = 4
    name: ClassVar[str] = "tsit5"
    tableau: ClassVar[ButcherTableau] = ButcherTableau(
        c=_TSIT5_C,
        a=(
            (0.161,),
            _row(0.327, (0.3354806554923570,)),
            _row(0.9, (-6.359448489975075, 4.362295432869581)),
            _row(0.9800255409045097, (-11.74888356406283, 7.495539342889836, -0.09249506636175525)),
            _row(
                1.0,
                (
                    -12.92096931784711,
                    8.159367898576159,
                    -0.071584973281401,
                    -0.02826905039406838,
                ),
            ),
            _TSIT5_B[:6],
        ),
        b=_TSIT5_B,
        b_err=(
            0.001780011052226,
            0.000816434459657,
            -0.007880878010262,
            0.144711007173263,
            -0.582357165452555,
            0.458082105929187,
            -1 / 66,
        ),
        dense=_tsit5_dense(),
    )
