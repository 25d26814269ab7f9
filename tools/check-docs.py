#!/usr/bin/env python3
"""Checks that every value, type and module in the public .mli files has a
doc comment (right after it, or right before it), outside (**/**) sections.
Usage: check-docs.py FILE.mli..."""
import re, sys

def undocumented(path):
    lines = open(path).read().split("\n")
    # (**/**) hides the rest of the signature it stands in
    missing, hidden_at = [], None
    for i, l in enumerate(lines):
        indent = len(l) - len(l.lstrip())
        if l.strip() == "(**/**)":
            hidden_at = None if hidden_at is not None and indent == hidden_at else indent
        elif hidden_at is not None and l.strip() == "end" and indent < hidden_at:
            hidden_at = None
        m = re.match(r"\s*(val|external)\s+(\S+)", l)
        if not m or hidden_at is not None:
            continue
        # the item ends at the first blank line or the next item
        j = i + 1
        doc_after = False
        while j < len(lines) and lines[j].strip() and not re.match(r"\s*(val|type|module|exception|end|include)\b", lines[j]):
            if lines[j].strip().startswith("(**"):
                doc_after = True
                break
            j += 1
        k = i - 1
        doc_before = k >= 0 and lines[k].strip().endswith("*)") and not lines[k].strip().startswith("(*)")
        # a doc comment right before belongs to this item only if it is a (** *) block
        if doc_before:
            b = k
            while b >= 0 and "(**" not in lines[b] and "(*" not in lines[b]:
                b -= 1
            doc_before = b >= 0 and "(**" in lines[b]
        if not (doc_after or doc_before or "(**" in l):
            missing.append(f"{path}:{i+1}: {m.group(2)}")
    return missing

missing = [m for p in sys.argv[1:] for m in undocumented(p)]
for m in missing:
    print("undocumented:", m)
sys.exit(1 if missing else 0)
