#!/usr/bin/env python3
"""Sums an Nsight Compute raw CSV (`ncu --csv --page raw --metrics gpu__time_duration.sum,
dram__bytes_read.sum,dram__bytes_write.sum[,lts__t_bytes.sum]`) per kernel: launches, total
and mean time, DRAM bytes and the achieved DRAM rate, and where measured the L2 traffic
(all requests to L2, in GB), the kernels that took the most time first.

usage: tools/ncu_summary.py NCU.csv
"""
import csv
import sys
from collections import defaultdict


def number(text):
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return 0.0


def main(path):
    with open(path, newline="") as f:
        lines = [line for line in f if line.startswith('"')]  # the CSV rows; ==PROF== lines left out
    rows = list(csv.reader(lines))
    if len(rows) < 3:
        print(f"{path}: no kernel rows")
        return 1
    header, units = rows[0], rows[1]
    col = {name: i for i, name in enumerate(header)}
    for need in ("Kernel Name", "gpu__time_duration.sum"):
        if need not in col:
            print(f"{path}: no column {need}")
            return 1
    scale = {"nsecond": 1e-9, "usecond": 1e-6, "msecond": 1e-3, "second": 1.0}
    t_scale = scale.get(units[col["gpu__time_duration.sum"]], 1e-9)
    b_scale = {"byte": 1, "Kbyte": 1e3, "Mbyte": 1e6, "Gbyte": 1e9}
    per = defaultdict(lambda: [0, 0.0, 0.0, 0.0, 0.0])
    for r in rows[2:]:
        name = r[col["Kernel Name"]].replace("(anonymous namespace)", "anon")
        name = name.split("(")[0].split("<")[0].split("::")[-1].replace("void ", "")
        p = per[name]
        p[0] += 1
        p[1] += number(r[col["gpu__time_duration.sum"]]) * t_scale
        for m, k in (("dram__bytes_read.sum", 2), ("dram__bytes_write.sum", 3), ("lts__t_bytes.sum", 4)):
            if m in col:
                p[k] += number(r[col[m]]) * b_scale.get(units[col[m]], 1)
    total = sum(p[1] for p in per.values())
    print(f"{sum(p[0] for p in per.values())} launches, {total * 1e3:.3f} ms in all")
    l2 = "lts__t_bytes.sum" in col
    print(f"{'kernel':44s} {'n':>5s} {'ms':>9s} {'share':>6s} {'us/launch':>10s} {'GB read':>8s} {'GB/s':>7s}"
          + (f" {'L2 GB':>8s}" if l2 else ""))
    for name, (n, t, rd, wr, l2b) in sorted(per.items(), key=lambda kv: -kv[1][1]):
        rate = (rd + wr) / t / 1e9 if t > 0 else 0.0
        print(f"{name[:44]:44s} {n:5d} {t * 1e3:9.3f} {100 * t / total:5.1f}% {1e6 * t / n:10.2f} "
              f"{rd / 1e9:8.3f} {rate:7.0f}" + (f" {l2b / 1e9:8.3f}" if l2 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
