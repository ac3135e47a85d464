#!/usr/bin/env python3
"""Write a population whose names follow published frequency tables, for the attacks.

The generator's surnames are more concentrated at the top than England's or the United
States' (its smith is 2.3% of GP records, its top 10 are 11%) and it has only some 4,750 of
them; a real population has a long tail. This script draws people from the US Census
Bureau's 1990 name tables (88,799 surnames, 1,219 male and 4,275 female given names, each
with its share of the population), as shipped in the `names` package on PyPI
(`pip install names`; the tables are `dist.all.last`, `dist.male.first` and
`dist.female.first` in its package folder). Dates of birth are uniform over 1925-2024;
every person gets a valid, distinct NHS number, so the encoded lines carry the
identifier-salted name tokens as the default file of a GP system would.

Run: `python3 benches/census_population.py --people 100000 --seed 31 --out target.csv`
(and again with another seed for the attacker's public sample), then
`cargo run --release --example frequency_attack -- --target target.csv --public public.csv`.
"""

import argparse
import bisect
import csv
import datetime
import pathlib
import random


def tables_dir():
    import names  # the `names` package: pip install names

    return pathlib.Path(names.__file__).parent


def read_table(path):
    """The names of a census table and their cumulative shares."""
    values, cumulative = [], []
    total = 0.0
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        total += float(parts[1])
        values.append(parts[0].capitalize())
        cumulative.append(total)
    return values, cumulative


def draw(rng, table):
    values, cumulative = table
    return values[bisect.bisect_left(cumulative, rng.random() * cumulative[-1])]


def nhs_numbers(start):
    """Valid NHS numbers (modulus 11 check digit) counting up from `start`."""
    n = start
    while True:
        digits = [int(c) for c in f"{n:09d}"]
        check = 11 - sum(d * (10 - i) for i, d in enumerate(digits)) % 11
        n += 1
        if check == 10:
            continue
        yield f"{n - 1:09d}{0 if check == 11 else check}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=31)
    ap.add_argument("--out", type=pathlib.Path, required=True)
    ap.add_argument("--tables", type=pathlib.Path, help="folder of the census tables")
    args = ap.parse_args()
    folder = args.tables or tables_dir()
    surnames = read_table(folder / "dist.all.last")
    given = {"M": read_table(folder / "dist.male.first"), "F": read_table(folder / "dist.female.first")}
    rng = random.Random(args.seed)
    first_day = datetime.date(1925, 1, 1).toordinal()
    last_day = datetime.date(2024, 12, 31).toordinal()
    numbers = nhs_numbers(400_000_000 + args.seed * 1_000_000)
    with args.out.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["rec_id", "nhs_number", "given_name", "surname", "date_of_birth", "sex"])
        for i in range(args.people):
            sex = rng.choice("MF")
            dob = datetime.date.fromordinal(rng.randint(first_day, last_day))
            w.writerow([f"C{i:08d}", next(numbers), draw(rng, given[sex]), draw(rng, surnames), dob.isoformat(), sex])


if __name__ == "__main__":
    main()
