#!/usr/bin/env python3
"""Add up many towns' pooled statistics (``kodomo-desktop-cli stats --round ID --out town.csv``) with DuckDB.

usage: python docs/pooled_stats.py 'stats/*.csv' [--out pooled.csv]

Each town's file has one row per indicator (with_item, flagged, confirmed; a small count left empty and marked
``suppressed``). A suppressed count stays unknown in the pool: the sums below count only the towns that published
the figure, and ``towns_suppressed`` says how many did not — so a prefecture never reconstructs a small town's cell.
"""

import argparse
import sys

import duckdb

QUERY = """
SELECT indicator,
       any_value(label)                          AS label,
       count(DISTINCT town || round)             AS towns,
       sum(in_scope)                             AS in_scope,
       sum(with_item)                            AS with_item,
       sum(flagged)                              AS flagged,
       sum(confirmed)                            AS confirmed,
       round(sum(confirmed) / nullif(sum(flagged), 0), 3) AS confirmed_share_of_flagged,
       sum(suppressed)                           AS towns_suppressed
FROM read_csv(?, header = true, union_by_name = true, filename = true,
              types = {'with_item': 'BIGINT', 'flagged': 'BIGINT', 'confirmed': 'BIGINT', 'in_scope': 'BIGINT',
                       'suppressed': 'BIGINT', 'town': 'VARCHAR', 'round': 'VARCHAR'})
GROUP BY indicator
ORDER BY with_item DESC NULLS LAST, indicator
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", help="a glob of the towns' CSV files")
    ap.add_argument("--out", help="write the pooled table here (CSV); default: standard output")
    a = ap.parse_args()
    con = duckdb.connect()
    # filename = true makes two copies of one town's file count as two towns (town || round alone would merge them)
    rel = con.execute(QUERY.replace("count(DISTINCT town || round)", "count(DISTINCT filename)"), [a.files])
    cols = [d[0] for d in rel.description]
    rows = rel.fetchall()
    out = open(a.out, "w", encoding="utf-8", newline="") if a.out else sys.stdout
    import csv

    w = csv.writer(out)
    w.writerow(cols)
    w.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
