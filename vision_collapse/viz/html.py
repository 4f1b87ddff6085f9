"""HTML pieces of the report: embedded pictures, tables that fit the page, folded blocks.

Every picture is embedded as a data URI, so a page opens from disk in any browser with no server, no network
and no JavaScript.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

PAGE_WIDTH = 1100  # CSS pixels of the page's column; tables are split so that none is wider
MAX_TABLE_COLUMNS = 12  # value columns per table before it is split into several
STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:%dpx;padding:0 12px;color:#222}
h2{border-bottom:1px solid #ddd;padding-bottom:3px;margin-top:1.6em}
table{border-collapse:collapse;font-size:12px;margin:6px 0 12px;max-width:100%%}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right;vertical-align:top}
th{background:#f3f3f3}th[title]{cursor:help;text-decoration:underline dotted}
td.label,th.label{text-align:left}img{max-width:100%%;border:1px solid #eee;margin:4px 0}
img.pixelated{image-rendering:pixelated;max-width:none}.wide{overflow-x:auto}
figure{margin:8px 0}figcaption{font-size:12px;color:#555}pre{background:#f7f7f7;padding:8px;overflow-x:auto}
.verdict{background:#f4f8ff;border:1px solid #b8cbe8;padding:4px 14px;border-radius:4px}
.warn{background:#fff4e5;border-left:4px solid #f0a020;padding:6px 10px;margin:4px 0}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ddd;border-radius:4px;padding:6px 8px;
width:520px;box-sizing:border-box}.card h3{margin:2px 0 4px;font-size:15px}.card table{font-size:11px}
""" % PAGE_WIDTH
MIME = {"png": "image/png", "gif": "image/gif", "svg": "image/svg+xml"}


def data_uri(data: bytes, suffix: str) -> str:
    """A data: URI of a picture's bytes."""
    return f"data:{MIME[suffix]};base64,{base64.b64encode(data).decode()}"


def image(path: Path, caption: str, link: str = "", width: int = 0, pixelated: bool = False) -> str:
    """A <figure> with the picture embedded; `link` makes it a link (to the full-size file), `width` fixes its
    CSS width (nearest-neighbour scaling when `pixelated`)."""
    path = Path(path)
    attrs = (f' width="{width}"' if width else "") + (' class="pixelated"' if pixelated else "")
    tag = f'<img alt="{html.escape(caption)}" src="{data_uri(path.read_bytes(), path.suffix[1:])}"{attrs}>'
    if link:
        tag = f'<a href="{html.escape(link)}">{tag}</a>'
    return f'<figure>{tag}<figcaption>{html.escape(caption)}</figcaption></figure>'


def pil_image(picture, caption: str, width: int = 0) -> str:
    """A <figure> of a PIL image, embedded as PNG and scaled with nearest neighbour to `width`."""
    buf = io.BytesIO()
    picture.save(buf, format="PNG")
    size = f' width="{width}"' if width else ""
    return (f'<figure><img class="pixelated" alt="{html.escape(caption)}" src="{data_uri(buf.getvalue(), "png")}"'
            f'{size}><figcaption>{html.escape(caption)}</figcaption></figure>')


def number(value: str | float, digits: int = 4) -> str:
    """A table cell: numbers at `digits` significant digits, text escaped."""
    try:
        return f"{float(value):.{digits}g}"
    except (TypeError, ValueError):
        return html.escape(str(value))


def _th(name: str, tip: str = "", label: bool = False) -> str:
    """A header cell; `tip` becomes its tooltip, `label` aligns it left."""
    title = f' title="{html.escape(tip)}"' if tip else ""
    return f'<th{" class=label" if label else ""}{title}>{html.escape(name)}</th>'


def table(header: list[str], rows: list[list[str]], tips: dict[str, str] | None = None,
          label_columns: int = 1, escape: bool = True) -> str:
    """An HTML table of already formatted cells; header cells get `tips` as tooltips; the first `label_columns`
    columns are left-aligned labels. Cells are escaped here unless `escape` is false (cells that are HTML)."""
    tips = tips or {}

    def td(cell: str, i: int) -> str:
        return f'<td{" class=label" if i < label_columns else ""}>{html.escape(cell) if escape else cell}</td>'

    head = "".join(_th(h, tips.get(h, ""), i < label_columns) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(td(c, i) for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def transposed(rows: list[dict], columns: list[str], key: str, tips: dict[str, str]) -> str:
    """CSV rows as tables with one row per column and one column per row's `key` (a generation), split every
    MAX_TABLE_COLUMNS so that no table outgrows the page; row labels carry the columns' meanings as tooltips."""
    parts = []
    for start in range(0, len(rows), MAX_TABLE_COLUMNS):
        chunk = rows[start:start + MAX_TABLE_COLUMNS]
        head = _th(key, label=True) + "".join(_th(r[key]) for r in chunk)
        body = "".join("<tr>" + _th(c, tips.get(c, ""), label=True)
                       + "".join(f"<td>{number(r.get(c, ''))}</td>" for r in chunk) + "</tr>" for c in columns)
        parts.append(f"<table><tr>{head}</tr>{body}</table>")
    return "".join(parts)


def details(summary: str, body: str, open_: bool = False) -> str:
    """A folded block."""
    return f"<details{' open' if open_ else ''}><summary>{html.escape(summary)}</summary>{body}</details>"


def section(name: str, title: str, body: str) -> str:
    """A top-level section of the page, with an id to link to."""
    return f'<section id="{name}"><h2>{html.escape(title)}</h2>{body}</section>'


def page(title: str, body: str) -> str:
    """A whole self-contained page."""
    return (f"<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' "
            f"content='width=device-width,initial-scale=1'><title>{html.escape(title)}</title><style>{STYLE}</style>"
            f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>")
