"""The `recognizer` command line: train, eval, predict, export, runs."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from recognizer.errors import CheckpointError
from synthgen.cli import USER_ERRORS, dispatch
from synthgen.errors import ConfigError


def main(argv: Sequence[str] | None = None) -> int:
    """Run one recognizer command; returns the process exit code."""
    return dispatch(build_parser(), argv, (*USER_ERRORS, CheckpointError))


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand."""
    parser = argparse.ArgumentParser(prog="recognizer", description="CRNN word recognizer: train, eval, predict, export.")
    commands = parser.add_subparsers(title="commands")

    pipeline = commands.add_parser("pipeline", help="the main job: fonts, previews, a small dataset, training, evaluation")
    pipeline.add_argument("config", nargs="?", metavar="CONFIG", help="synthgen YAML (default: built-in defaults)")
    pipeline.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    pipeline.add_argument("--out", default="output/pipeline", help="output folder (default output/pipeline)")
    pipeline.add_argument("--steps", type=int, default=800, help="training steps of 64 samples (default 800)")
    pipeline.add_argument("--eval-samples", type=int, default=2000, help="samples in the evaluation set (default 2000)")
    pipeline.set_defaults(handler=run_pipeline)

    train = commands.add_parser("train", help="train a CRNN on the synthetic stream and/or datasets")
    train.add_argument("config", nargs="?", metavar="CONFIG", help="training YAML (default: built-in defaults)")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    train.add_argument("--init", metavar="CHECKPOINT", help="start from a trained model's weights (fine-tuning; = model.init)")
    train.set_defaults(handler=run_train)

    evaluate = commands.add_parser("eval", help="metrics, report JSON and a gallery of the worst errors")
    evaluate.add_argument("checkpoint")
    evaluate.add_argument("data", help="LMDB or folder with labels.tsv")
    evaluate.add_argument("--json", help="report JSON (default: beside the checkpoint, eval-DATA.json)")
    evaluate.add_argument("--gallery", help="HTML gallery of the worst errors (default: beside the report)")
    evaluate.add_argument("--beam", type=int, default=0, help="beam width (default: greedy)")
    evaluate.add_argument("--case-insensitive", action="store_true",
                          help="judge confidence by case-insensitive matches (labels that do not keep the printed case)")
    evaluate.add_argument("--high", type=float, default=0.9, help="keep answers at least this confident (default 0.9)")
    evaluate.add_argument("--low", type=float, default=0.3, help="drop answers below this confidence (default 0.3)")
    evaluate.add_argument("--lexicon", help="word list: the check band's accuracy after snapping to it")
    evaluate.set_defaults(handler=run_eval)

    calibrate = commands.add_parser("calibrate", help="fit the confidence on labelled real crops, store it in a new checkpoint")
    calibrate.add_argument("checkpoint")
    calibrate.add_argument("data", help="labelled real crops (LMDB or folder), document-disjoint from any set you measure on")
    calibrate.add_argument("--out", required=True, metavar="CHECKPOINT2", help="the calibrated checkpoint to write")
    calibrate.add_argument("--measure", metavar="DATA", help="also report ECE before and after on this held-out set")
    calibrate.add_argument("--case-insensitive", action="store_true", help="count case-insensitive matches as right")
    calibrate.set_defaults(handler=run_calibrate)

    predict = commands.add_parser("predict", help="print text and confidence for images")
    predict.add_argument("checkpoint")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.add_argument("--json", action="store_true", help="one JSON object per image")
    predict.add_argument("--beam", type=int, default=0, help="beam width (default: greedy)")
    predict.add_argument("--lexicon", help="word list: mid-confidence answers snap to the nearest word")
    predict.add_argument("--high", type=float, default=0.9, help="lexicon: keep answers at least this confident")
    predict.add_argument("--low", type=float, default=0.3, help="lexicon: answers below this are no text")
    predict.set_defaults(handler=run_predict)

    export = commands.add_parser("export", help="export a checkpoint to ONNX (dynamic batch and width)")
    export.add_argument("checkpoint")
    export.add_argument("--onnx", required=True, metavar="OUT.onnx")
    export.set_defaults(handler=run_export)

    serve = commands.add_parser("serve", help="an HTTP API and web page over a checkpoint or ONNX model")
    serve.add_argument("model", metavar="MODEL", help="a checkpoint (.pt) or an ONNX file made by `recognizer export`")
    serve.add_argument("--host", help="interface to listen on (default 127.0.0.1; 0.0.0.0 for all, e.g. in a container)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.add_argument("--workers", type=int, help="inference threads (default 2)")
    serve.add_argument("--config", help="service YAML: limits, keys, lexicons, log")
    serve.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    serve.set_defaults(handler=run_serve)

    compare = commands.add_parser("compare", help="the data lab: train every arm with one recipe and budget, score on real sets")
    compare.add_argument("lab", metavar="LAB.yaml")
    compare.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                         help="override a lab key, e.g. --set budget=1000")
    compare.add_argument("--arm", action="append", default=[], metavar="NAME", help="train only this arm (repeatable)")
    compare.add_argument("--list", action="store_true", help="list arms, seeds, cache keys and status; train nothing")
    compare.add_argument("--report-only", action="store_true", help="score finished runs and write the report; train nothing")
    compare.add_argument("--device", choices=("auto", "cpu", "cuda"), help="training device (not part of an arm's identity)")
    compare.add_argument("--threads", type=int, help="torch threads on CPU")
    compare.add_argument("--workers", type=int, help="data loader processes per run")
    compare.set_defaults(handler=run_compare)

    runs = commands.add_parser("runs", help="list runs, newest first, with their key metrics")
    runs.add_argument("--dir", default="runs", help="runs folder (default runs)")
    runs.set_defaults(handler=run_runs)
    return parser


def run_pipeline(arguments: argparse.Namespace) -> int:
    """The main job."""
    from recognizer.pipeline import run_main_job

    run_main_job(arguments.config, arguments.overrides, Path(arguments.out), arguments.steps, arguments.eval_samples)
    return 0


def run_train(arguments: argparse.Namespace) -> int:
    """Train or resume."""
    from recognizer.config import load_train_config
    from recognizer.trainer import train

    if arguments.resume and arguments.init:
        raise ConfigError("--init starts a new run from a checkpoint and --resume continues a run: give one of them")
    if arguments.resume:
        run = Path(arguments.resume)
        if not (run / "config.yaml").exists():
            raise ConfigError(f"{run} is not a run folder (no config.yaml)")
        config = load_train_config(run / "config.yaml", arguments.overrides)
    else:
        init = [f"model.init={arguments.init}"] if arguments.init else []
        config = load_train_config(arguments.config, [*arguments.overrides, *init])
    run = train(config, resume=Path(arguments.resume) if arguments.resume else None)
    if run is not None:
        print(f"run: {run}  (checkpoints/last.pt, best.pt; metrics.jsonl; plots/)")
    return 0


def run_eval(arguments: argparse.Namespace) -> int:
    """Evaluate a checkpoint on a dataset and write the report and gallery."""
    from recognizer.predict import Lexicon
    from recognizer.report import evaluate_checkpoint

    name = Path(arguments.data).resolve().name
    report = Path(arguments.json) if arguments.json else Path(arguments.checkpoint).parent / f"eval-{name}.json"
    gallery = Path(arguments.gallery) if arguments.gallery else report.with_suffix(".html")
    lexicon = Lexicon.from_file(arguments.lexicon) if arguments.lexicon else None
    summary = evaluate_checkpoint(Path(arguments.checkpoint), Path(arguments.data), report, gallery, arguments.beam,
                                  casefold=arguments.case_insensitive, high=arguments.high, low=arguments.low, lexicon=lexicon)
    print(f"{name}: {summary['words']} words, accuracy {summary['accuracy']:.3f} exact, "
          f"{summary['accuracy_case_insensitive']:.3f} case-insensitive, {summary['accuracy_ignore_spaces']:.3f} ignoring "
          f"spaces; CER {summary['cer']:.3f} ({summary['cer_case_insensitive']:.3f} case-insensitive); NED {summary['ned']:.3f}")
    if summary["negatives"]:
        print(f"negatives: {summary['negatives']}, false-positive rate {summary['negative_false_positive_rate']:.3f}")
    print("\n".join(confidence_lines(summary)))
    print(f"report: {report} (+ {report.stem}-precision-recall.png, -reliability.png, -confidence.png)\n"
          f"gallery: {gallery} (+ .png)")
    return 0


def noise_floor(noise: list[float] | tuple[float, float]) -> str:
    """The ECE's noise floor (mean, 95th percentile) in words."""
    return f"a perfectly calibrated model would measure {noise[0]:.3f} on as many crops, 95% of the time below {noise[1]:.3f}"


def confidence_lines(summary: dict) -> list[str]:
    """ECE, the bands, accuracy at 90% and 95% coverage and a precision/recall table, as printed by eval."""
    lines = [f"confidence ({summary['compared']} matches): mean {summary['mean_confidence']:.3f}, "
             f"expected calibration error {summary['ece']:.3f} ({noise_floor(summary['ece_noise'])})"]
    for band in summary["bands"]:
        accuracy = f"{band['accuracy']:.3f}" if band["accuracy"] is not None else "-"
        after = f", {band['accuracy_after_lexicon']:.3f} after the lexicon" if "accuracy_after_lexicon" in band else ""
        lines.append(f"  {band['band']:5} {band['share']:6.1%} of words, accuracy {accuracy}{after}")
    coverage = "  ".join(f"{float(share):.0%} coverage {value:.3f}" for share, value in summary["accuracy_at_coverage"].items()
                         if value is not None)
    lines.append(f"  accuracy at {coverage}")
    rows = [row for row in summary["precision_recall"] if row["threshold"] in (0.3, 0.5, 0.7, 0.8, 0.9, 0.95)]
    lines.append("  threshold  kept   precision  recall")
    lines += [f"  {row['threshold']:9.2f}  {row['kept']:5.1%}  {row['precision'] or 0:9.3f}  {row['recall'] or 0:6.3f}" for row in rows]
    return lines


def run_calibrate(arguments: argparse.Namespace) -> int:
    """Fit the confidence calibration on real crops and write a new checkpoint carrying it."""
    from recognizer.calibrate import calibrate_checkpoint

    result = calibrate_checkpoint(Path(arguments.checkpoint), Path(arguments.data), Path(arguments.out),
                                  Path(arguments.measure) if arguments.measure else None, arguments.case_insensitive)
    for name, figures in result["sets"].items():
        print(f"{name}: ECE {figures['ece_before']:.3f} before, {figures['ece_after']:.3f} after "
              f"({figures['words']} words, accuracy {figures['accuracy']:.3f}, mean confidence "
              f"{figures['confidence_before']:.3f} -> {figures['confidence_after']:.3f}); {noise_floor(figures['ece_noise'])}")
    print(f"calibrated checkpoint: {arguments.out}\nreliability before/after: {result['plot']}")
    return 0


def run_predict(arguments: argparse.Namespace) -> int:
    """Print one line (or JSON object) per image."""
    from recognizer.predict import Lexicon, predict_images, read_image
    from recognizer.checkpoints import checkpoint_calibration, checkpoint_max_width, load_checkpoint

    model, codec, payload = load_checkpoint(arguments.checkpoint)
    images = [read_image(path) for path in arguments.images]
    predictions = predict_images(model, codec, images, checkpoint_calibration(payload), arguments.beam,
                                 checkpoint_max_width(payload))
    lexicon = Lexicon.from_file(arguments.lexicon, high=arguments.high, low=arguments.low) if arguments.lexicon else None
    for path, prediction in zip(arguments.images, predictions):
        outcome = None
        if lexicon is not None:
            prediction, outcome = lexicon.apply(prediction)
        if arguments.json:
            print(json.dumps({"image": path, "text": prediction.text, "confidence": round(prediction.confidence, 4),
                              **({"lexicon": outcome} if outcome else {})}, ensure_ascii=False))
        else:
            print(f"{path}\t{prediction.text}\t{prediction.confidence:.3f}" + (f"\t{outcome}" if outcome else ""))
    return 0


def run_export(arguments: argparse.Namespace) -> int:
    """Write the ONNX file."""
    from recognizer.checkpoints import load_checkpoint
    from recognizer.export import checkpoint_metadata, export_onnx

    model, _, payload = load_checkpoint(arguments.checkpoint)
    print(f"onnx: {export_onnx(model, arguments.onnx, metadata=checkpoint_metadata(payload))}")
    return 0


def run_serve(arguments: argparse.Namespace) -> int:
    """Serve a model until stopped."""
    from recognizer.serve import load_serve_config, run_server

    flags = [f"{key}={value}" for key, value in (("host", arguments.host), ("port", arguments.port),
                                                 ("workers", arguments.workers)) if value is not None]
    config = load_serve_config(arguments.config, [*arguments.overrides, *flags])
    model = Path(arguments.model)
    print(f"serving {model} on http://{config.host}:{config.port}/ (API under /v1, metrics /metrics)", flush=True)
    run_server(model, config)
    return 0


def run_compare(arguments: argparse.Namespace) -> int:
    """Plan the lab, train what its cache lacks, and print where the report is."""
    from recognizer.lab import load_lab, plan_lab, run_lab

    lab = load_lab(arguments.lab, arguments.overrides)
    how = [f"{key}={value}" for key, value in (("device", arguments.device), ("threads", arguments.threads),
                                                 ("data.workers", arguments.workers)) if value is not None]
    if arguments.list:
        for run in plan_lab(lab, how):
            print(f"{run.arm.name:28} seed {run.seed:<3} {run.key[:10]}  {run.status():8} {run.folder}")
        return 0
    summary = run_lab(lab, arguments.arm, how, train_missing=not arguments.report_only)
    for arm in summary["arms"]:
        sets = "  ".join(f"{name} {cell['accuracy_case_insensitive']['mean']:.3f}" for name, cell in arm["sets"].items() if cell)
        print(f"{arm['name']:28} seeds {len(arm['seeds_finished'])}/{len(lab.seeds)}  {sets}")
    print(f"report: {Path(lab.out) / 'results.md'} (+ results.json, curves.png, disagreements.html)")
    return 0


def run_runs(arguments: argparse.Namespace) -> int:
    """List runs newest first."""
    from recognizer.runs import list_runs

    rows = list_runs(Path(arguments.dir))
    if not rows:
        print(f"no runs in {arguments.dir}")
        return 0
    for row in rows:
        sets = "  ".join(f"{name}: acc {v['accuracy_ci']:.3f} cer {v['cer']:.3f}" for name, v in row["sets"].items()
                         if v["accuracy_ci"] is not None and v["cer"] is not None)
        loss = f"{row['loss']:.3f}" if row["loss"] is not None else "-"
        state = "done" if row["finished"] else "running/stopped"
        print(f"{row['run']:32} {row['started']:19} step {row['step']:>6} loss {loss:>7}  {state:15} {sets}")
    return 0
