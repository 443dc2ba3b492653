"""Dormand–Prince 8(7) with 13 stages plus a first-same-as-last stage.

Coefficients: P. J. Prince and J. R. Dormand, "High order embedded Runge–Kutta
formulae", J. Comput. Appl. Math. 7 (1981), method RK8(7)13M. The midpoint weights for
the quartic dense output are the values at θ = 1/2 of the continuous extension used by
torchdiffeq's ``dopri8``.
"""

from __future__ import annotations

from typing import ClassVar, final

from ._solver import AbstractExplicitRK, ButcherTableau

__all__ = ["Dopri8"]

_C = (
    0.0,
    1 / 18,
    1 / 12,
    1 / 8,
    5 / 16,
    3 / 8,
    59 / 400,
    93 / 200,
    5490023248 / 9719169821,
    13 / 20,
    1201146811 / 1299019798,
    1.0,
    1.0,
    1.0,
)

_A = (
    (1 / 18,),
    (1 / 48, 1 / 16),
    (1 / 32, 0.0, 3 / 32),
    (5 / 16, 0.0, -75 / 64, 75 / 64),
    (3 / 80, 0.0, 0.0, 3 / 16, 3 / 20),
    (
        29443841 / 614563906,
        0.0,
        0.0,
        77736538 / 692538347,
        -28693883 / 1125000000,
        23124283 / 1800000000,
    ),
    (
        16016141 / 946692911,
        0.0,
        0.0,
        61564180 / 158732637,
        22789713 / 633445777,
        545815736 / 2771057229,
        -180193667 / 1043307555,
    ),
    (
        39632708 / 573591083,
        0.0,
        0.0,
        -433636366 / 683701615,
        -421739975 / 2616292301,
        100302831 / 723423059,
        790204164 / 839813087,
        800635310 / 3783071287,
    ),
    (
        246121993 / 1340847787,
        0.0,
        0.0,
        -37695042795 / 15268766246,
        -309121744 / 1061227803,
        -12992083 / 490766935,
        6005943493 / 2108947869,
        393006217 / 1396673457,
        123872331 / 1001029789,
    ),
    (
        -1028468189 / 846180014,
        0.0,
        0.0,
        8478235783 / 508512852,
        1311729495 / 1432422823,
        -10304129995 / 1701304382,
        -48777925059 / 3047939560,
        15336726248 / 1032824649,
        -45442868181 / 3398467696,
        3065993473 / 597172653,
    ),
    (
        185892177 / 718116043,
        0.0,
        0.0,
        -3185094517 / 667107341,
        -477755414 / 1098053517,
        -703635378 / 230739211,
        5731566787 / 1027545527,
        5232866602 / 850066563,
        -4093664535 / 808688257,
        3962137247 / 1805957418,
        65686358 / 487910083,
    ),
    (
        403863854 / 491063109,
        0.0,
        0.0,
        -5068492393 / 434740067,
        -411421997 / 543043805,
        652783627 / 914296604,
        11173962825 / 925320556,
        -13158990841 / 6184727034,
        3936647629 / 1978049680,
        -160528059 / 685178525,
        248638103 / 1413531060,
        0.0,
    ),
)

_B8 = (
    14005451 / 335480064, 0.0, 0.0, 0.0, 0.0, -59238493 / 1068277825,
    181606767 / 758867731, 561292985 / 797845732, -1041891430 / 1371343529,
    760417239 / 1151165299, 118820643 / 751138087, -528747749 / 2220607170, 1 / 4,
)  # fmt: skip

_B7 = (
    13451932 / 455176623, 0.0, 0.0, 0.0, 0.0, -808719846 / 976000145,
    1757004468 / 5645159321, 656045339 / 265891186, -3867574721 / 1518517206,
    465885868 / 322736535, 53011238 / 667516719, 2 / 45, 0.0,
)  # fmt: skip

_MID = (
    0.04103130360739393, 0.0, 0.0, 0.0, 0.0, 0.05100562801991382, 0.2388930677412202,
    0.3096870143996103, -0.2172325471755352, 0.07833405679331928, -0.0018614369715579948,
    0.007072844202678841, 0.00690847373200576, -0.013838404349047373,
)  # fmt: skip


@final
class Dopri8(AbstractExplicitRK):
    """Dormand–Prince 8(7), for tight tolerances.

    Its dense output is a quartic (4th order) against 8th-order steps, so adaptive
    solves end a step on every output time instead of interpolating between long steps
    (``clamps_to_outputs``): outputs are as accurate as the steps, at the cost of extra
    steps only where output times are denser than the natural steps. For outputs
    interpolated between long steps use :class:`~neurosym.ode.Dop853` (``"dop853"``), whose
    seventh-order continuous extension costs three field evaluations per step instead.
    """

    order: ClassVar[int] = 8
    error_order: ClassVar[int | None] = 7
    dense_order: ClassVar[int] = 4
    name: ClassVar[str] = "dopri8"
    tableau: ClassVar[ButcherTableau] = ButcherTableau(
        c=_C,
        a=(*_A, _B8),
        b=(*_B8, 0.0),
        b_err=(*(x - y for x, y in zip(_B8, _B7)), 0.0),
        c_mid=_MID,
    )
