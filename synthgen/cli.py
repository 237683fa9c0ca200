"""The `synthgen` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from synthgen.charset import Charset, CharsetError
from synthgen.codec import LabelOutsideCharsetError
from synthgen.config import Config, ConfigError, config_as_dict, load_config
from synthgen.corpus.choices import CorpusInputError
from synthgen.corpus.mixer import CorpusExhaustedError, CorpusMixer, TextSample
from synthgen.corpus.statistics import CorpusStatistics, plot_character_shares
from synthgen.datasets import DatasetError
from synthgen.fonts.atlas import atlas_cache_of, prepare_atlases
from synthgen.fonts.audit import AuditCache, FontReport, audit_faces, summarize, write_audit_json
from synthgen.fonts.catalog import FontCatalog
from synthgen.fonts.files import discover_faces, font_folders
from synthgen.fonts.sampler import FontCoverageError, FontSampler, build_font_sampler, load_font_reports
from synthgen.fonts.sheet import render_tiles, write_sampler_sheet, write_sheet_html, write_sheet_pages
from synthgen.generator import GenerationError, WordGenerator
from synthgen.paths import resolve_path
from synthgen.preview import write_effect_gallery, write_preview
from synthgen.seeding import stage_rngs
from synthgen.writer import CHUNK, WriteRequest, merge_datasets, write_dataset

SAMPLER_WORDS = ("Invoice", "TOTAL", "$12.99", "24QT TISSUE", "Receipt", "2024-03-05", "Qty", "Dear Sir,", "www.shop.com")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one synthgen command; returns the process exit code."""
    return dispatch(build_parser(), argv, USER_ERRORS)


USER_ERRORS = (ConfigError, CharsetError, FontCoverageError, CorpusInputError, CorpusExhaustedError, GenerationError,
               DatasetError, LabelOutsideCharsetError)


def dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None, errors: tuple[type, ...]) -> int:
    """Parse and run the chosen subcommand; the given errors are the user's to fix: one line, exit code 2."""
    arguments = parser.parse_args(argv)
    if not hasattr(arguments, "handler"):
        parser.print_help()
        return 2
    try:
        return arguments.handler(arguments) or 0
    except errors as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="synthgen", description="Synthetic word images for OCR training.")
    commands = parser.add_subparsers(title="commands")

    pipeline = commands.add_parser("pipeline", help="the main job on a config (default: built-in defaults)")
    add_config_arguments(pipeline, positional=True)
    pipeline.add_argument("--out", help="output folder (default: the config's output_dir/pipeline)")
    pipeline.set_defaults(handler=run_pipeline)

    preview = commands.add_parser("preview", help="a grid of samples with labels, or one effect's gallery")
    add_config_arguments(preview, positional=True)
    preview.add_argument("-n", type=int, default=64, help="how many samples (default 64)")
    preview.add_argument("--seed", type=int, default=None, help="run seed (default: the config's seed)")
    preview.add_argument("--out", default="preview.png", help="PNG to write (default preview.png)")
    preview.add_argument("--effect", help="show this effect alone across its parameter range, before and after")
    preview.set_defaults(handler=run_preview)

    write = commands.add_parser("write", help="write a dataset (LMDB or folder + labels.tsv), resumable and parallel")
    add_config_arguments(write, positional=True)
    write.add_argument("--count", type=int, required=True, help="samples in the whole run (all shards together)")
    write.add_argument("--out", required=True, help="dataset folder (must be empty, unless --resume)")
    write.add_argument("--format", choices=("lmdb", "folder"), default="lmdb", help="lmdb (default) or folder")
    write.add_argument("--seed", type=int, default=None, help="run seed (default: the config's seed)")
    write.add_argument("--workers", type=int, default=None, help="generating processes (default: all cores)")
    write.add_argument("--resume", action="store_true", help="finish an interrupted dataset in --out")
    write.add_argument("--shard", default="1/1", metavar="K/N", help="write only the K-th of N index ranges (default 1/1)")
    write.add_argument("--image-format", choices=("png", "jpg"), default="png", help="png (lossless, default) or jpg")
    write.add_argument("--jpeg-quality", type=int, default=95, help="JPEG quality 1..100 (default 95)")
    write.add_argument("--chunk", type=int, default=CHUNK, help=f"samples per atomic commit (default {CHUNK})")
    write.set_defaults(handler=run_write)

    merge = commands.add_parser("merge", help="concatenate shard datasets of one run into one dataset")
    merge.add_argument("inputs", nargs="+", metavar="SHARD", help="shard dataset folders (any order)")
    merge.add_argument("--out", required=True, help="new dataset folder")
    merge.set_defaults(handler=run_merge)

    profile = commands.add_parser("profile", help="statistics of real crops against a config's samples, largest gap first")
    profile.add_argument("real", metavar="REAL", help="LMDB or folder dataset, or a folder of crop images (unlabelled)")
    profile.add_argument("--against", metavar="CONFIG", help="synthgen YAML whose samples to compare (default: none)")
    profile.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                         help="override a value of the --against config")
    profile.add_argument("-n", type=int, default=2000, help="synthetic samples to measure (default 2000)")
    profile.add_argument("--limit", type=int, default=5000, help="real crops to measure at most, spread evenly (default 5000)")
    profile.add_argument("--seed", type=int, default=None, help="run seed of the samples (default: the config's seed)")
    profile.add_argument("--out", required=True, help="folder for profile.json and profile.png")
    profile.set_defaults(handler=run_profile)

    split = commands.add_parser("split", help="split a labelled dataset into train and validation, document-disjoint")
    split.add_argument("dataset", metavar="DATASET", help="LMDB or folder dataset (labels.tsv: ours or name<TAB>label)")
    split.add_argument("--by", required=True, metavar="FIELD_OR_REGEX",
                       help="a meta.tsv column naming each sample's document, or a regex on the file name "
                            "(its first group), e.g. 'sroie_r(\\d+)_'")
    split.add_argument("--ratio", type=float, default=0.8, help="share of documents in train (default 0.8)")
    split.add_argument("--seed", type=int, default=0, help="which documents go where (default 0)")
    split.add_argument("--out", required=True, help="new folder: OUT/train and OUT/validation")
    split.add_argument("--charset", help="charset the labels must fit (default: the project's)")
    split.add_argument("--drop-outside-charset", action="store_true", help="drop (and count) labels outside the charset")
    split.set_defaults(handler=run_split)

    show = commands.add_parser("config", help="print the resolved configuration as JSON")
    add_config_arguments(show, positional=True)
    show.set_defaults(handler=run_show_config)

    fonts = commands.add_parser("fonts", help="font audit and sampling weights").add_subparsers(title="font commands")
    audit = fonts.add_parser("audit", help="audit font files for problems that would make labels wrong")
    audit.add_argument("paths", nargs="*", metavar="PATH", help="font files or folders (default: every discovered font)")
    audit.add_argument("--charset", help="charset file (default: the config's charset)")
    audit.add_argument("--json", default="fonts/audit.json", help="audit JSON output (default: fonts/audit.json)")
    audit.add_argument("--sheet", help="PNG contact sheet (several pages for many faces: NAME-2.png, ...)")
    audit.add_argument("--html", help="HTML page for browsing every face")
    audit.add_argument("--workers", type=int, default=None, help="parallel processes (default: all cores)")
    audit.add_argument("--no-cache", action="store_true", help="audit again even faces already in the cache")
    add_config_arguments(audit, positional=False)
    audit.set_defaults(handler=run_fonts_audit)

    corpus = commands.add_parser("corpus", help="inspect a text mix").add_subparsers(title="corpus commands")
    sample = corpus.add_parser("sample", help="print N strings, one per line (same seed, same strings)")
    add_config_arguments(sample, positional=True)
    sample.add_argument("-n", type=int, default=20, help="how many strings (default 20)")
    sample.add_argument("--seed", type=int, default=None, help="run seed (default: the config's seed)")
    sample.add_argument("--jsonl", action="store_true", help='print {"text": ..., "source": ...} objects')
    sample.set_defaults(handler=run_corpus_sample)
    stats = corpus.add_parser("stats", help="source shares, lengths, character frequencies, rejections, plot")
    add_config_arguments(stats, positional=True)
    stats.add_argument("-n", type=int, default=20000, help="how many strings to measure (default 20000)")
    stats.add_argument("--seed", type=int, default=None, help="run seed (default: the config's seed)")
    stats.add_argument("--plot", help="PNG of character shares before and after balancing (default: in output_dir)")
    stats.set_defaults(handler=run_corpus_stats)

    atlases = fonts.add_parser("atlas", help="draw every usable face's glyph atlas ahead of a run (kept on disk)")
    add_config_arguments(atlases, positional=True)
    atlases.add_argument("--workers", type=int, default=None, help="parallel processes (default: all cores)")
    atlases.set_defaults(handler=run_fonts_atlas)

    listing = fonts.add_parser("list", help="every usable face with its family, tags, status and probability")
    add_config_arguments(listing, positional=True)
    listing.add_argument("--text", default="", help="probabilities for this string (default: any string)")
    listing.set_defaults(handler=run_fonts_list)
    return parser


def add_config_arguments(parser: argparse.ArgumentParser, positional: bool) -> None:
    """CONFIG (positional or --config) and repeatable --set section.key=value overrides."""
    if positional:
        parser.add_argument("config", nargs="?", metavar="CONFIG", help="YAML config (default: built-in defaults)")
    else:
        parser.add_argument("--config", help="YAML config (default: built-in defaults)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a value"
    )


def config_from(arguments: argparse.Namespace) -> Config:
    """The config named on the command line with its overrides applied."""
    return load_config(arguments.config, arguments.overrides)


def charset_from(config: Config, path: str | None = None) -> Charset:
    """The charset file named on the command line, else the config's."""
    return Charset.from_file(resolve_path(path or config.charset.path))


def run_show_config(arguments: argparse.Namespace) -> int:
    """Print the resolved configuration."""
    print(json.dumps(config_as_dict(config_from(arguments)), indent=2))
    return 0


def run_fonts_audit(arguments: argparse.Namespace) -> int:
    """Audit fonts, write the JSON (and optionally sheet and HTML), print counts."""
    config = config_from(arguments)
    charset = charset_from(config, arguments.charset)
    started = time.perf_counter()
    faces = discover_faces(arguments.paths or font_folders(config.fonts))
    if arguments.paths and not faces:
        raise ConfigError(f"no font files (.ttf, .otf, .ttc, .otc) found in {' '.join(arguments.paths)}")
    cache = None if arguments.no_cache else AuditCache(resolve_path(config.fonts.audit_cache))
    reports = audit_faces(faces, charset, cache, workers=arguments.workers)
    write_audit_json(reports, charset, arguments.json)
    print_audit_summary(reports, time.perf_counter() - started)
    print(f"audit JSON: {arguments.json}")
    tiles = render_tiles(reports) if arguments.sheet or arguments.html else []
    if arguments.sheet:
        pages = write_sheet_pages(tiles, arguments.sheet)
        print(f"contact sheet: {pages[0]}" + (f" (+{len(pages) - 1} more pages)" if len(pages) > 1 else ""))
    if arguments.html:
        print(f"HTML page: {write_sheet_html(tiles, arguments.html)}")
    return 0


def print_audit_summary(reports: Sequence[FontReport], seconds: float) -> None:
    """Faces found, counts by status and by problem code, and time taken."""
    counts = summarize(reports)
    print(f"audited {len(reports)} faces in {seconds:.1f} s")
    print("  by status:  " + ", ".join(f"{status} {count}" for status, count in sorted(counts["status"].items())))
    print("  by problem: " + ", ".join(f"{code} {count}" for code, count in counts["problems"].items()))


def run_fonts_atlas(arguments: argparse.Namespace) -> int:
    """Draw the glyph atlases (plain and stroked) of every face the config's sampler can draw, where missing."""
    config = config_from(arguments)
    sampler = build_font_sampler(config.fonts, charset_from(config))
    cache = atlas_cache_of(config.fonts)
    started = time.perf_counter()
    drawn, present = prepare_atlases([face.report for face in sampler.faces], config.render.glyph_size, cache,
                                     workers=arguments.workers)
    print(f"glyph atlases of {len(sampler.faces)} faces at {config.render.glyph_size} px, plain and stroked: "
          f"{drawn} drawn in {time.perf_counter() - started:.1f} s, {present} already there ({cache.folder})")
    return 0


def run_fonts_list(arguments: argparse.Namespace) -> int:
    """Print every usable face with family, tags, status and effective probability."""
    config = config_from(arguments)
    sampler = build_font_sampler(config.fonts, charset_from(config))
    print_face_table(sampler, arguments.text)
    return 0


def print_face_table(sampler: FontSampler, text: str = "", limit: int | None = None) -> None:
    """A table of faces sorted by probability for the text (empty: any string)."""
    probabilities = sampler.probabilities(text)
    order = np.argsort(-probabilities, kind="stable")
    print(f"{'probability':>11}  {'status':10}  {'family':28}  {'style':18}  {'catalog entry':34}  tags  file")
    for row in order[:limit]:
        face = sampler.faces[row]
        report = face.report
        print(
            f"{probabilities[row]:11.6f}  {report.status:10}  {report.family[:28]:28}  {report.style[:18]:18}  "
            f"{face.entry_name[:34]:34}  {','.join(face.tags) or '-'}  {Path(report.path).name}"
        )
    usable = int((probabilities > 0).sum())
    print(f"{len(sampler.faces)} usable faces, {usable} with a nonzero probability for {text or 'any string'!r}")


def draw_texts(mixer: CorpusMixer, seed: int, count: int) -> list[TextSample]:
    """Strings 0..count-1 of a run: string i uses the text stage of sample i's generators."""
    return [mixer.sample(stage_rngs(seed, index)["text"]) for index in range(count)]


def run_corpus_sample(arguments: argparse.Namespace) -> int:
    """Print strings from the mix."""
    config = config_from(arguments)
    mixer = CorpusMixer(config.corpus, charset_from(config))
    seed = config.seed if arguments.seed is None else arguments.seed
    for sample in draw_texts(mixer, seed, positive(arguments.n, "-n")):
        print(json.dumps({"text": sample.text, "source": sample.source}, ensure_ascii=False) if arguments.jsonl else sample.text)
    return 0


def run_corpus_stats(arguments: argparse.Namespace) -> int:
    """Measure a mix with and without balancing; print the report and write the plot."""
    config = config_from(arguments)
    seed = config.seed if arguments.seed is None else arguments.seed
    plot = arguments.plot or resolve_path(config.output_dir) / "corpus-characters.png"
    report_corpus(config, seed, positive(arguments.n, "-n"), plot)
    return 0


def report_corpus(config: Config, seed: int, count: int, plot: str | Path) -> None:
    """Print statistics of `count` strings before and after balancing, and plot their character shares."""
    charset = charset_from(config)
    measured = {}
    for balanced in (False, True):
        corpus = replace(config.corpus, balance=replace(config.corpus.balance, enabled=balanced))
        started = time.perf_counter()
        mixer = CorpusMixer(corpus, charset)
        ready = time.perf_counter()
        samples = draw_texts(mixer, seed, count)
        speed = count / (time.perf_counter() - ready)
        measured[balanced] = CorpusStatistics.measure(samples, charset, corpus.balance.min_share, mixer.rejections)
        print(f"== {'after' if balanced else 'before'} balancing (set up {ready - started:.1f} s, {speed:,.0f} strings/s)")
        print(measured[balanced].report())
    print(f"plot: {plot_character_shares(measured[False], measured[True], plot)}")


def run_preview(arguments: argparse.Namespace) -> int:
    """Write a preview grid or an effect gallery."""
    config = config_from(arguments)
    generator = WordGenerator(config, seed=arguments.seed)
    if arguments.effect:
        print(f"gallery: {write_effect_gallery(generator, arguments.effect, arguments.out)}")
    else:
        print(f"preview: {write_preview(generator, positive(arguments.n, '-n'), arguments.out)}")
    return 0


def run_write(arguments: argparse.Namespace) -> int:
    """Write or resume a dataset and print where it is and how fast it went."""
    config = config_from(arguments)
    shard, _, shards = arguments.shard.partition("/")
    if not (shard.isdigit() and shards.isdigit()):
        raise DatasetError(f"--shard must look like K/N (for example 2/8), got {arguments.shard!r}")
    request = WriteRequest(
        config=config, out=Path(arguments.out), count=arguments.count,
        seed=config.seed if arguments.seed is None else arguments.seed, format=arguments.format,
        image_format=arguments.image_format, jpeg_quality=arguments.jpeg_quality, shard=int(shard), shards=int(shards),
        workers=(os.cpu_count() or 1) if arguments.workers is None else arguments.workers, resume=arguments.resume,
        chunk=arguments.chunk,
    )
    try:
        manifest = write_dataset(request)
    except KeyboardInterrupt:
        print(f"\ninterrupted: every committed chunk in {request.out} is intact; rerun with --resume to finish",
              file=sys.stderr)
        return 130
    print(f"wrote {manifest['written']} samples to {request.out} ({manifest['format']}) in {manifest['seconds']:.1f} s: "
          f"{manifest['images_per_second']} img/s, {manifest['bytes_per_sample']} bytes/sample")
    return 0


def run_merge(arguments: argparse.Namespace) -> int:
    """Merge shard datasets into one."""
    manifest = merge_datasets([Path(path) for path in arguments.inputs], Path(arguments.out))
    gaps = " (the shards leave gaps in the index range)" if manifest["has_gaps"] else ""
    print(f"merged {len(arguments.inputs)} shards, {manifest['written']} samples, into {arguments.out}{gaps}")
    return 0


def run_split(arguments: argparse.Namespace) -> int:
    """Split a dataset by document and print the counts per side."""
    from synthgen.split import split_dataset

    charset = Charset.from_file(resolve_path(arguments.charset or load_config().charset.path))
    out = Path(arguments.out)
    plan = split_dataset(resolve_path(arguments.dataset), arguments.by, arguments.ratio, arguments.seed, out,
                         frozenset(charset.characters), arguments.drop_outside_charset)
    for side, positions in plan.sides.items():
        print(f"{side:10} {len(positions):6} crops from {len(plan.groups[side]):4} documents -> {out / side}")
    if plan.dropped_samples:
        listed = ", ".join(f"{c!r} x{n}" for c, n in plan.dropped.most_common(12))
        print(f"dropped    {plan.dropped_samples:6} crops whose labels hold characters outside the charset ({listed})")
    return 0


def run_profile(arguments: argparse.Namespace) -> int:
    """Profile real crops (against a config's samples) and print the ranked differences."""
    from synthgen.profile_report import profile, ranking_lines

    real = resolve_path(arguments.real)
    config = load_config(arguments.against, arguments.overrides) if arguments.against or arguments.overrides else None
    seed = (config.seed if config else 0) if arguments.seed is None else arguments.seed
    result = profile(real, config, positive(arguments.n, "-n"), positive(arguments.limit, "--limit"), seed, Path(arguments.out))
    side = f" against {arguments.against or 'the built-in defaults'} ({arguments.n} samples)" if config else ""
    print(f"profile of {real}{side}; distance = earth mover's distance over the real spread, largest first:")
    print("\n".join(ranking_lines(result["statistics"])))
    print(f"figures: {Path(arguments.out) / 'profile.json'}\nhistograms: {Path(arguments.out) / 'profile.png'}")
    return 0


def positive(value: int, name: str) -> int:
    """A count that must be at least 1."""
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, got {value}")
    return value


def run_pipeline(arguments: argparse.Namespace) -> int:
    """The main job: audit every font, write sheets and an HTML page, show the sampler's weights and draws."""
    config = config_from(arguments)
    out = Path(arguments.out or resolve_path(config.output_dir) / "pipeline")
    out.mkdir(parents=True, exist_ok=True)
    charset = charset_from(config)
    print(f"[1] font audit (discovery in {len(font_folders(config.fonts))} folders, cached by content hash)")
    started = time.perf_counter()
    reports = load_font_reports(config.fonts, charset)
    print_audit_summary(reports, time.perf_counter() - started)
    write_audit_json(reports, charset, out / "font-audit.json")
    tiles = render_tiles(reports)
    pages = write_sheet_pages(tiles, out / "font-sheet.png")
    print(f"[2] contact sheet: {pages[0]} ({len(pages)} pages), HTML: {write_sheet_html(tiles, out / 'font-audit.html')}")
    sampler = FontSampler(reports, FontCatalog.from_file(resolve_path(config.fonts.catalog)), config.fonts, charset)
    print("[3] font sampler: the 15 most likely faces")
    print_face_table(sampler, limit=15)
    rng = np.random.default_rng(config.seed)
    draws = []
    for index in range(48):
        text = SAMPLER_WORDS[index % len(SAMPLER_WORDS)]
        choice = sampler.sample(text, rng)
        draws.append((text, choice.face, choice.size))
    print(f"sampler draws: {write_sampler_sheet(draws, out / 'font-draws.png')}")
    print("[4] corpus mix: 5000 strings")
    report_corpus(config, config.seed, 5000, out / "corpus-characters.png")
    print("[5] word images: a sample sheet")
    print(f"preview: {write_preview(WordGenerator(config, fonts=sampler), 64, out / 'preview.png')}")
    return 0
