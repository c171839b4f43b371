"""Prints the rows of the table `orders` in shop.db, waiting (up to 30 s) until there are at
least as many as the first argument says: the sink writes a moment after the file is read."""
import sqlite3
import sys
import time

wanted = int(sys.argv[1]) if len(sys.argv) > 1 else 0
deadline = time.monotonic() + 30
while True:
    try:
        rows = sqlite3.connect("shop.db").execute("select * from orders order by id").fetchall()
    except sqlite3.OperationalError:  # the sink has not created the table yet
        rows = []
    if len(rows) >= wanted or time.monotonic() > deadline:
        break
    time.sleep(0.2)
for row in rows:
    print(row)
