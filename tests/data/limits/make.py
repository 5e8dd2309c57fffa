"""Writes the fixtures of tests/data/limits: files that are not CSV, each named .csv as users
rename them, and a CSV with a quote never closed. Deterministic (fixed times, no randomness):
`python3 tests/data/limits/make.py` writes the same bytes. What each must give: tests/expected.md,
"Files that must be rejected"."""
import gzip
import io
import os
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
CSV = b"txn_id,created_at,amount,status\nT1,2025-07-01T10:00:00+08:00,12.50,success\n"
WHEN = (2025, 7, 1, 0, 0, 0)


def zipped(entries):
    """A ZIP archive of (name, bytes), stored uncompressed, with a fixed time: its first entry
    comes first, as the magic-bytes check reads it."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name, WHEN), data)
    return out.getvalue()


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


# A zipped export renamed .csv, and an empty archive (only its end record).
write("archive.csv", zipped([("payments.csv", CSV)]))
write("empty_archive.csv", zipped([]))
# An Excel workbook saved as .xlsx, renamed: Office Open XML starts with [Content_Types].xml.
write(
    "workbook.csv",
    zipped(
        [
            ("[Content_Types].xml", b'<?xml version="1.0"?><Types/>'),
            ("xl/workbook.xml", b'<?xml version="1.0"?><workbook/>'),
        ]
    ),
)
# An OpenDocument spreadsheet: its first entry, `mimetype`, holds the media type.
write(
    "sheet.csv",
    zipped(
        [
            ("mimetype", b"application/vnd.oasis.opendocument.spreadsheet"),
            ("content.xml", b'<?xml version="1.0"?><office:document-content/>'),
        ]
    ),
)
# An Excel 97-2003 workbook: an OLE2 compound document's header (its first 32 bytes).
write("legacy.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16) + b"\x3e\x00\x03\x00\xfe\xff\x09\x00")
# A gzip-compressed CSV, with no name and time 0 in its header.
write("compressed.csv", gzip.compress(CSV, mtime=0))
# The start of a PDF, a JPEG and a Parquet file.
write("document.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")
write("photo.csv", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
write("table.csv", b"PAR1\x15\x04\x15\x10\x15\x14L\x15\x02\x15\x00\x12\x00\x00PAR1")
# A quote opened on line 3, column 4, never closed: the two lines after it would be its cell.
write(
    "unclosed_quote.csv",
    CSV
    + b'T2,2025-07-01T11:00:00+08:00,3.00,"success\n'
    + b"T3,2025-07-01T12:00:00+08:00,4.00,success\n"
    + b"T4,2025-07-01T13:00:00+08:00,5.00,success\n",
)
