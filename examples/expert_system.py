"""An expert-system consultation: conclusions, how sure they are, and why (or why not).

Run ``python examples/expert_system.py`` from the repository root (``--quick`` is the
same: it takes a fraction of a second). It loads ``rules/diagnosis.rules``, a toy
MYCIN-style knowledge base, and:

1. lists every referral under certainty factors, and under probability for comparison
   where the KB allows it (negative certainty factors have no probabilistic meaning);
2. explains the strongest diagnosis as a proof tree;
3. asks why a patient is *not* referred, naming the premise that fails;
4. adds a new patient at run time and consults again, without reloading anything.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Run from a checkout: prefer this repository's neurosym over an installed one.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import neurosym as ns  # noqa: E402


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run the consultation; returns what it found, for the tests."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", default=str(ROOT / "rules" / "diagnosis.rules"))
    ap.add_argument("--quick", action="store_true", help="(accepted for uniformity)")
    args = ap.parse_args(argv)

    kb = ns.load(args.rules)
    print("Referrals under certainty factors:")
    referrals = ns.query(kb, "refer(P)", semantics="cf")
    for a in referrals:
        print(f"  {a}")

    flu = ns.query(kb, "flu(P)", semantics="cf")
    best = max(flu, key=lambda a: float(a.value))
    print(f"\nThe strongest diagnosis is {best}. How?")
    print(best.explain().render())

    print("\nWhy is ann not referred?")
    why = ns.why_not(kb, "refer(ann)", semantics="cf")
    print(why.render())

    print("\nA new patient arrives:")
    kb.add(
        "patient(dora). temperature(dora, 39.8). 0.9 :: symptom(dora, cough). "
        "0.8 :: symptom(dora, short_breath). age(dora, 81)."
    )
    dora = ns.query(kb, "refer(dora)", semantics="cf")
    for a in dora:
        print(f"  {a}")
        print(a.explain().render())
    violations = ns.infer(kb, semantics="cf").violations
    print(f"\nIntegrity constraints violated: {len(violations)}")
    return {
        "referrals": [a.fact for a in referrals],
        "best": best.fact,
        "ann_referred": why.holds,
        "dora": [a.value for a in dora],
    }


if __name__ == "__main__":
    main()
