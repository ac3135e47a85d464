#!/usr/bin/env python3
"""Error estimates without labels against the truth: for each data set, run carematch with
--truth and --summary-json and print the estimated and true precision and recall of the run's
decisions (the default threshold), and the difference in points.

    python3 benches/estimate_honesty.py --data /tmp/carematch-accuracy/data [--bin target/release/carematch]

The data directory is the accuracy harness's (benches/accuracy/run.py writes it): gen-* sets
with gp.csv, hospital.csv, truth.csv (and dedupe.csv, truth_dedupe.csv) and febrl/ with FEBRL1-4.
"""
import argparse, json, os, subprocess, sys, tempfile

def sets(data):
    out = []
    for d in sorted(os.listdir(data)):
        p = os.path.join(data, d)
        if d.startswith("gen-") and os.path.exists(os.path.join(p, "truth.csv")):
            out.append((d + " link", ["link", "--left", f"{p}/gp.csv", "--right", f"{p}/hospital.csv"], f"{p}/truth.csv"))
            if os.path.exists(os.path.join(p, "dedupe.csv")):
                out.append((d + " dedupe", ["dedupe", "--input", f"{p}/dedupe.csv"], f"{p}/truth_dedupe.csv"))
    f = os.path.join(data, "febrl")
    for i in (1, 2, 3):
        out.append((f"FEBRL{i} dedupe", ["dedupe", "--input", f"{f}/febrl{i}.csv"], f"{f}/febrl{i}_truth.csv"))
    out.append(("FEBRL4 link", ["link", "--left", f"{f}/febrl4a.csv", "--right", f"{f}/febrl4b.csv"], f"{f}/febrl4_truth.csv"))
    return out

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--bin", default="target/release/carematch")
    ap.add_argument("--markdown", help="also write the table here")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, args, truth in sets(a.data):
            js = os.path.join(tmp, "s.json")
            cmd = [a.bin, "--quiet", "--summary-json", js] + args + ["--out", os.path.join(tmp, "p.csv"), "--truth", truth]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            s = json.load(open(js))
            e = s["error_estimate"]["decisions"]
            t = s["evaluation"]
            rows.append((name, e["precision"], t["precision"], e["recall"], t["recall"],
                         e["expected_missed_compared"], e["expected_missed_by_blocking"], t["false_negatives"]))
            r = rows[-1]
            print(f"{name:<44} P est {r[1]:.4f} true {r[2]:.4f} ({100*(r[1]-r[2]):+.2f})  "
                  f"R est {r[3]:.4f} true {r[4]:.4f} ({100*(r[3]-r[4]):+.2f})  "
                  f"missed est {r[5]:.0f}+{r[6]:.0f} true {r[7]}", flush=True)
    worst_p = max(rows, key=lambda r: abs(r[1] - r[2]))
    worst_r = max(rows, key=lambda r: abs(r[3] - r[4]))
    print(f"worst precision gap {100*abs(worst_p[1]-worst_p[2]):.2f} points ({worst_p[0]}); "
          f"worst recall gap {100*abs(worst_r[3]-worst_r[4]):.2f} points ({worst_r[0]})")
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write("| data set | precision est. | true | gap (points) | recall est. | true | gap (points) |\n|---|---|---|---|---|---|---|\n")
            for r in rows:
                f.write(f"| {r[0]} | {r[1]:.4f} | {r[2]:.4f} | {100*(r[1]-r[2]):+.2f} | {r[3]:.4f} | {r[4]:.4f} | {100*(r[3]-r[4]):+.2f} |\n")

if __name__ == "__main__":
    sys.exit(main())
