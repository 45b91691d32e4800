"""`list`: every container under --root, as a table, ids only, or JSON."""
from .. import jsonlite
from ..errors import PyruncError
from ..state import ContainerDir, list_ids


def run(args) -> int:
    rows = []
    for cid in list_ids(args.root):
        try:
            cdir = ContainerDir(args.root, cid)
            st = cdir.load()
            rows.append(st.oci(cdir.status(st)))
        except PyruncError:
            continue  # deleted meanwhile, or unreadable: list shows what it can
    if args.quiet:
        for r in rows:
            print(r["id"])
    elif args.format == "json":
        print(jsonlite.dumps(rows, compact=True))  # compact, as runc (scripts match it)
    else:
        table = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        table += [(r["id"], str(r["pid"]), r["status"], r["bundle"], r["created"], r["owner"])
                  for r in rows]
        widths = [max(len(row[i]) for row in table) for i in range(6)]
        for row in table:
            print("   ".join(cell.ljust(max(w, 9)) for cell, w in zip(row, widths)).rstrip())
    return 0
