"""Contact sheets of audited faces: PNG pages for a quick look, one HTML page for browsing."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from synthgen.fonts.audit import FontReport
from synthgen.fonts.files import matplotlib_font_folder
from synthgen.fonts.shapes import load_font

SAMPLE_LINE = "Sphinx of black quartz, judge my vow 0123456789 $12.99 €£ 50% & @/:-#"
STATUS_COLOURS = {"ok": (30, 130, 60), "restricted": (200, 120, 0), "rejected": (200, 30, 30)}
STATUS_ORDER = {"rejected": 0, "restricted": 1, "ok": 2}
TILE_WIDTH, TILE_HEIGHT = 920, 64
SAMPLE_SIZE = 26
COLUMNS, ROWS_PER_PAGE = 2, 40


def sheet_order(reports: Sequence[FontReport]) -> list[FontReport]:
    """Rejected first, then restricted, then ok; by family and style within each."""
    return sorted(reports, key=lambda report: (STATUS_ORDER[report.status], report.family.lower(), report.style))


def label_font(size: int = 13) -> ImageFont.FreeTypeFont:
    """The face used for captions (always available through matplotlib)."""
    return ImageFont.truetype(str(matplotlib_font_folder() / "DejaVuSans.ttf"), size)


def render_tile(report: FontReport) -> Image.Image:
    """One face: caption with status and problems, then the sample line with unusable characters in red."""
    tile = Image.new("RGB", (TILE_WIDTH, TILE_HEIGHT), "white")
    draw = ImageDraw.Draw(tile)
    caption = f"{report.status.upper()}  {report.family} {report.style}  ({Path(report.path).name})"
    draw.text((6, 3), caption, fill=STATUS_COLOURS[report.status], font=label_font())
    problems = "; ".join(f"{problem.code}: {problem.chars[:40] or problem.detail[:60]}" for problem in report.problems)
    draw.text((6, 19), problems[:120], fill=(90, 90, 90), font=label_font(11))
    draw_sample(draw, report, (6, TILE_HEIGHT - 8))
    draw.line([(0, TILE_HEIGHT - 1), (TILE_WIDTH, TILE_HEIGHT - 1)], fill=(220, 220, 220))
    return tile


def draw_sample(draw: ImageDraw.ImageDraw, report: FontReport, origin: tuple[int, int]) -> None:
    """Draw the sample line character by character: black where the face may be used, red elsewhere."""
    try:
        font = load_font(report.path, report.face, SAMPLE_SIZE)
    except OSError:
        draw.text(origin, "(cannot be loaded)", fill=STATUS_COLOURS["rejected"], font=label_font(), anchor="ls")
        return
    x, baseline = origin
    for character in SAMPLE_LINE:
        colour = (0, 0, 0) if character in report.coverage or character == " " else STATUS_COLOURS["rejected"]
        try:
            draw.text((x, baseline), character, fill=colour, font=font, anchor="ls")
            x += font.getlength(character)
        except (OSError, ValueError):
            x += SAMPLE_SIZE // 2
        if x > TILE_WIDTH:
            break


def render_tiles(reports: Sequence[FontReport]) -> list[tuple[FontReport, Image.Image]]:
    """Every face's tile, in sheet order, rendered once for both the PNG pages and the HTML page."""
    return [(report, render_tile(report)) for report in sheet_order(reports)]


def write_sheet_pages(tiles: Sequence[tuple[FontReport, Image.Image]], path: str | Path) -> list[Path]:
    """PNG pages of tiles (COLUMNS x ROWS_PER_PAGE each): path, then path-2.png, path-3.png, ..."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = [tile for _, tile in tiles]
    per_page = COLUMNS * ROWS_PER_PAGE
    written: list[Path] = []
    for page_number, start in enumerate(range(0, max(len(ordered), 1), per_page), start=1):
        chunk = ordered[start : start + per_page]
        rows = max(1, -(-len(chunk) // COLUMNS))
        page = Image.new("RGB", (TILE_WIDTH * COLUMNS, TILE_HEIGHT * rows), "white")
        for position, tile in enumerate(chunk):
            column, row = position // rows, position % rows
            page.paste(tile, (column * TILE_WIDTH, row * TILE_HEIGHT))
        target = path if page_number == 1 else path.with_name(f"{path.stem}-{page_number}{path.suffix}")
        page.save(target)
        written.append(target)
    return written


def write_sheet_html(tiles: Sequence[tuple[FontReport, Image.Image]], path: str | Path) -> Path:
    """One self-contained HTML page: a filterable table with each face's rendered sample."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = "\n".join(html_row(report, tile) for report, tile in tiles)
    counts = {status: sum(report.status == status for report, _ in tiles) for status in STATUS_COLOURS}
    summary = ", ".join(f"{count} {status}" for status, count in counts.items())
    path.write_text(HTML_PAGE.format(count=len(tiles), summary=summary, rows=rows), encoding="utf-8")
    return path


def html_row(report: FontReport, tile: Image.Image) -> str:
    """A table row: status, family, style, file, problems, and the tile image inline."""
    buffer = io.BytesIO()
    tile.convert("L").save(buffer, format="PNG")
    image = base64.b64encode(buffer.getvalue()).decode("ascii")
    problems = "<br>".join(
        f"<b>{html.escape(problem.code)}</b> {html.escape(problem.chars)} <i>{html.escape(problem.detail)}</i>"
        for problem in report.problems
    )
    return (
        f'<tr class="{report.status}"><td>{report.status}</td><td>{html.escape(report.family)}</td>'
        f"<td>{html.escape(report.style)}</td><td title=\"{html.escape(report.path)}\">"
        f"{html.escape(Path(report.path).name)}#{report.face}</td><td>{problems}</td>"
        f'<td><img loading="lazy" src="data:image/png;base64,{image}"></td></tr>'
    )


HTML_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Font audit: {count} faces</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
table {{ border-collapse: collapse; }} td {{ border-bottom: 1px solid #ddd; padding: 4px; vertical-align: top; font-size: 13px; }}
tr.ok td:first-child {{ color: #1e823c; }} tr.restricted td:first-child {{ color: #c87800; }}
tr.rejected td:first-child {{ color: #c81e1e; }} td:nth-child(5) {{ max-width: 28em; }}
</style></head><body>
<h1>Font audit: {count} faces ({summary})</h1>
<p>Characters drawn in red in a sample are ones the face may not be used for.
Filter: <input id="filter" placeholder="family, file, status or problem" size="40">
<label><input type="checkbox" id="hideok"> hide ok faces</label></p>
<table id="faces"><tr><th>status</th><th>family</th><th>style</th><th>file</th><th>problems</th><th>sample</th></tr>
{rows}
</table>
<script>
const filter = document.getElementById('filter'), hideok = document.getElementById('hideok');
function apply() {{
  const needle = filter.value.toLowerCase();
  for (const row of document.querySelectorAll('#faces tr[class]')) {{
    const hidden = (hideok.checked && row.className === 'ok') || !row.textContent.toLowerCase().includes(needle);
    row.style.display = hidden ? 'none' : '';
  }}
}}
filter.addEventListener('input', apply); hideok.addEventListener('change', apply);
</script></body></html>
"""


def write_sampler_sheet(draws: Sequence[tuple[str, FontReport, int]], path: str | Path, columns: int = 4) -> Path:
    """A grid of (text, face, size) draws from the sampler, each captioned with its family and size."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = 300, 84
    rows = max(1, -(-len(draws) // columns))
    page = Image.new("RGB", (width * columns, height * rows), "white")
    for position, (text, report, size) in enumerate(draws):
        cell = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(cell)
        draw.text((8, 8 + size), text, fill="black", font=load_font(report.path, report.face, size), anchor="ls")
        caption = f"{report.family} {report.style} {size}px"
        draw.text((8, height - 18), caption[:44], fill=(90, 90, 90), font=label_font(11))
        draw.rectangle([0, 0, width - 1, height - 1], outline=(225, 225, 225))
        page.paste(cell, ((position % columns) * width, (position // columns) * height))
    page.save(path)
    return path
