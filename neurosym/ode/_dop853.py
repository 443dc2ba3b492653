"""Dormand–Prince 8(5,3), Hairer's DOP853, with its seventh-order continuous extension.

Coefficients: E. Hairer, S. P. Nørsett and G. Wanner, *Solving Ordinary Differential
Equations I* (2nd ed., Springer 1993; the method and its dense output), as programmed
in Hairer's Fortran code ``dop853.f`` (http://www.unige.ch/~hairer/). The
doubles below are those published values (read from the table in SciPy's
``dop853_coefficients.py``, which reproduces them); ``tests/ode/test_dop853.py`` checks
them against the order conditions.

The method has 12 stages and a thirteenth, first-same-as-last one (``f`` at the new
state). Its error estimate combines a fifth-order difference ``e5`` and a third-order one
``e3`` (both scaled by the tolerances) into ``‖e5‖² / √(‖e5‖² + 0.01 ‖e3‖²)``, an
``O(h^8)`` quantity. The continuous extension needs three more stages (``c`` = 1/10, 1/5,
7/9), evaluated only for steps whose dense output is used
(:meth:`~neurosym.ode.AbstractSolver.complete_dense`).
"""

from __future__ import annotations

from typing import ClassVar, final

from ._solver import AbstractExplicitRK, ButcherTableau

__all__ = ["Dop853"]


def _row(n: int, nonzero: dict[int, float]) -> tuple[float, ...]:
    """A row of ``n`` coefficients from its nonzero entries (stage index: value)."""
    return tuple(nonzero.get(j, 0.0) for j in range(n))


# Nodes c2..c5 are (12 - 2√6)/135, (6 - √6)/45, (6 - √6)/30 and (6 + √6)/30.
_C = (
    0.0, 0.05260015195876773, 0.0789002279381516, 0.1183503419072274, 0.2816496580927726,
    1 / 3, 1 / 4, 4 / 13, 127 / 195, 3 / 5, 6 / 7, 1.0, 1.0,
)  # fmt: skip

_A = (
    _row(1, {0: 0.05260015195876773}),
    _row(2, {0: 0.0197250569845379, 1: 0.0591751709536137}),
    _row(3, {0: 0.02958758547680685, 2: 0.08876275643042054}),
    _row(4, {0: 0.2413651341592667, 2: -0.8845494793282861, 3: 0.924834003261792}),
    _row(5, {0: 0.037037037037037035, 3: 0.17082860872947386, 4: 0.12546768756682242}),
    _row(6, {0: 0.037109375, 3: 0.17025221101954405, 4: 0.06021653898045596,
             5: -0.017578125}),
    _row(7, {0: 0.03709200011850479, 3: 0.17038392571223998, 4: 0.10726203044637328,
             5: -0.015319437748624402, 6: 0.008273789163814023}),
    _row(8, {0: 0.6241109587160757, 3: -3.3608926294469414, 4: -0.868219346841726,
             5: 27.59209969944671, 6: 20.154067550477894, 7: -43.48988418106996}),
    _row(9, {0: 0.47766253643826434, 3: -2.4881146199716677, 4: -0.590290826836843,
             5: 21.230051448181193, 6: 15.279233632882423, 7: -33.28821096898486,
             8: -0.020331201708508627}),
    _row(10, {0: -0.9371424300859873, 3: 5.186372428844064, 4: 1.0914373489967295,
              5: -8.149787010746927, 6: -18.52006565999696, 7: 22.739487099350505,
              8: 2.4936055526796523, 9: -3.0467644718982196}),
    _row(11, {0: 2.273310147516538, 3: -10.53449546673725, 4: -2.0008720582248625,
              5: -17.9589318631188, 6: 27.94888452941996, 7: -2.8589982771350235,
              8: -8.87285693353063, 9: 12.360567175794303, 10: 0.6433927460157636}),
)  # fmt: skip

# The eighth-order weights (also the row of the first-same-as-last stage).
_B = _row(12, {0: 0.054293734116568765, 5: 4.450312892752409, 6: 1.8915178993145003,
               7: -5.801203960010585, 8: 0.3111643669578199, 9: -0.1521609496625161,
               10: 0.20136540080403034, 11: 0.04471061572777259})  # fmt: skip

# The fifth-order error weights (the difference itself, Hairer's ER1 ... ER12) and the
# third-order embedded weights (BHH1 = 31/127, BHH2, BHH3 = 3/136) whose difference from
# b is the third-order estimate. Neither weighs the last stage.
_E5 = _row(13, {0: 0.01312004499419488, 5: -1.2251564463762044, 6: -0.4957589496572502,
                7: 1.6643771824549864, 8: -0.35032884874997366, 9: 0.3341791187130175,
                10: 0.08192320648511571, 11: -0.022355307863886294})  # fmt: skip
_BHH = _row(13, {0: 0.2440944881889764, 8: 0.7338466882816118, 11: 0.022058823529411766})

# The three stages of the continuous extension, at c = 1/10, 1/5 and 7/9; row i weighs
# the 13 stages of the step and the extra stages before it.
_DENSE_C = (1 / 10, 1 / 5, 7 / 9)
_DENSE_A = (
    _row(13, {0: 0.056167502283047954, 6: 0.25350021021662483, 7: -0.2462390374708025,
              8: -0.12419142326381637, 9: 0.15329179827876568, 10: 0.00820105229563469,
              11: 0.007567897660545699, 12: -0.008298}),
    _row(14, {0: 0.03183464816350214, 5: 0.028300909672366776, 6: 0.053541988307438566,
              7: -0.05492374857139099, 10: -0.00010834732869724932,
              11: 0.0003825710908356584, 12: -0.00034046500868740456,
              13: 0.1413124436746325}),
    _row(15, {0: -0.42889630158379194, 5: -4.697621415361164, 6: 7.683421196062599,
              7: 4.06898981839711, 8: 0.3567271874552811, 12: -0.0013990241651590145,
              13: 2.9475147891527724, 14: -9.15095847217987}),
)  # fmt: skip

# Hairer's r5 ... r8 of the nested dense output (D4 ... D7 in dop853.f), divided by h:
# weights over all 16 stages.
_R5_8 = (
    _row(16, {0: -8.428938276109013, 5: 0.5667149535193777, 6: -3.0689499459498917,
              7: 2.38466765651207, 8: 2.117034582445028, 9: -0.871391583777973,
              10: 2.2404374302607883, 11: 0.6315787787694688, 12: -0.08899033645133331,
              13: 18.148505520854727, 14: -9.194632392478356, 15: -4.436036387594894}),
    _row(16, {0: 10.427508642579134, 5: 242.28349177525817, 6: 165.20045171727028,
              7: -374.5467547226902, 8: -22.113666853125306, 9: 7.733432668472264,
              10: -30.674084731089398, 11: -9.332130526430229, 12: 15.697238121770845,
              13: -31.139403219565178, 14: -9.35292435884448, 15: 35.81684148639408}),
    _row(16, {0: 19.985053242002433, 5: -387.0373087493518, 6: -189.17813819516758,
              7: 527.8081592054236, 8: -11.57390253995963, 9: 6.8812326946963,
              10: -1.0006050966910838, 11: 0.7777137798053443, 12: -2.778205752353508,
              13: -60.19669523126412, 14: 84.32040550667716, 15: 11.99229113618279}),
    _row(16, {0: -25.69393346270375, 5: -154.18974869023643, 6: -231.5293791760455,
              7: 357.6391179106141, 8: 93.40532418362432, 9: -37.45832313645163,
              10: 104.0996495089623, 11: 29.8402934266605, 12: -43.53345659001114,
              13: 96.32455395918828, 14: -39.17726167561544, 15: -149.72683625798564}),
)  # fmt: skip

# Hairer's dense output is the nested form
#   y(θ) = r1 + θ(r2 + (1-θ)(r3 + θ(r4 + (1-θ)(r5 + θ(r6 + (1-θ)(r7 + θ r8))))))
# with r1 = y0, r2 = y1 - y0, r3 = h k1 - r2, r4 = r2 - h k13 - r3. Expanded (by sympy;
# tests/ode/test_dop853.py re-derives it), the coefficient of θ^(p+1) is Σ_j M[p][j] r_j
# over r2 ... r8:
_NESTED_TO_POWER = (
    (1, 1, 0, 0, 0, 0, 0),
    (0, -1, 1, 1, 0, 0, 0),
    (0, 0, -1, -2, 1, 1, 0),
    (0, 0, 0, 1, -2, -3, 1),
    (0, 0, 0, 0, 1, 3, -3),
    (0, 0, 0, 0, 0, -1, 3),
    (0, 0, 0, 0, 0, 0, -1),
)


def _dense_rows() -> tuple[tuple[float, ...], ...]:
    """Rows ``P[p]`` over the 16 stages with ``y(θ) = y0 + h Σ_p θ^(p+1) Σ_i P[p][i] k_i``."""
    b = (*_B, 0.0, 0.0, 0.0, 0.0)
    e1 = _row(16, {0: 1.0})
    e13 = _row(16, {12: 1.0})
    r2 = b
    r3 = tuple(x - y for x, y in zip(e1, r2))
    r4 = tuple(x - y - z for x, y, z in zip(r2, e13, r3))
    r = (r2, r3, r4, *_R5_8)
    return tuple(
        tuple(sum(m * rj[i] for m, rj in zip(coef, r) if m != 0) for i in range(16))
        for coef in _NESTED_TO_POWER
    )


@final
class Dop853(AbstractExplicitRK):
    """Hairer's DOP853: Dormand–Prince 8(5,3) with a seventh-order dense output.

    For tight tolerances. Unlike :class:`Dopri8` it interpolates output times between its
    steps (``clamps_to_outputs`` is False): adding output times adds no steps, only three
    field evaluations for each step that passes an output time (the extra stages of the
    continuous extension).

    Example:
        >>> import torch
        >>> from neurosym import ode
        >>> t = torch.linspace(0.0, 1.0, 5, dtype=torch.float64)
        >>> y0 = torch.ones(1, 1, dtype=torch.float64)
        >>> sol = ode.solve(lambda t, y: -y, y0, t, method="dop853", rtol=1e-10, atol=1e-12)
        >>> float((sol.ys[:, 0, 0] - torch.exp(-t)).abs().max()) < 1e-10
        True
    """

    order: ClassVar[int] = 8
    # The combined estimate is O(h^8): the controller's exponent is 1/8, as in dop853.f.
    error_order: ClassVar[int | None] = 7
    dense_order: ClassVar[int] = 7
    name: ClassVar[str] = "dop853"
    tableau: ClassVar[ButcherTableau] = ButcherTableau(
        c=_C,
        a=(*_A, _B),
        b=(*_B, 0.0),
        b_err=_E5,
        b_err_low=tuple(x - y for x, y in zip((*_B, 0.0), _BHH)),
        dense=_dense_rows(),
        dense_c=_DENSE_C,
        dense_a=_DENSE_A,
    )
