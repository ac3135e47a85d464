#!/usr/bin/env python3
"""The within-salt frequency attack at a chosen number of people per salt value, simulated.

An attacker who sees the column that salted the names (the date-of-birth token) splits the
records by it and, within each part, labels the largest group of equal name tokens with the
commonest public name, the next with the next, and so on. Salted tokens are equal exactly
where the names are within a part, so the attack needs no encoding to simulate: draw names
into parts of a given size, align, count. The floor is the same alignment on encodings that
say nothing (every record its own group, in random order): guessing the commonest names.

    python3 benches/within_salt_attack.py --names A/gp.csv --public B/gp.csv [--sizes 3,40,380,2000]

A/gp.csv and B/gp.csv are two independent `carematch generate` outputs (the attacker's
ranking comes from B). Names are drawn independently of dates; a region of 14 million has
about 380 people per date of birth.
"""
import argparse
import csv
import random
from collections import Counter


def names_in(path, column):
    with open(path, newline="", encoding="utf-8") as f:
        return [r[column].strip().lower() for r in csv.DictReader(f) if r[column].strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--names", required=True)
    ap.add_argument("--public", required=True)
    ap.add_argument("--sizes", default="3,40,380,2000")
    ap.add_argument("--records", type=int, default=80000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--column", default="surname", help="the names' column (given_name too)")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    names = names_in(a.names, a.column)
    public = [n for n, _ in sorted(Counter(names_in(a.public, a.column)).items(), key=lambda x: (-x[1], x[0]))]
    for size in (int(s) for s in a.sizes.split(",")):
        hits = floor = total = 0
        for _ in range(max(1, a.records // size)):
            part = [rng.choice(names) for _ in range(size)]
            counts = Counter(part)
            keys = list(counts)
            rng.shuffle(keys)
            ranked = sorted(keys, key=lambda k: -counts[k])
            hits += sum(counts[k] for k, g in zip(ranked, public) if k == g)
            order = part[:]
            rng.shuffle(order)
            floor += sum(1 for k, g in zip(order, public) if k == g)
            total += size
        print(f"{size:>6} per salt value: within-salt alignment {100 * hits / total:5.2f}%, "
              f"floor {100 * floor / total:5.2f}%, excess {100 * (hits - floor) / total:5.2f} points")


if __name__ == "__main__":
    main()
