"""``lisa signature …``: verify signed PDFs, decrypt the biometric data (trusted third party)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    help="Advanced electronic signatures (PAdES + biometrics): verify, decrypt biometrics.",
    no_args_is_help=True,
)
err = Console(stderr=True)


@app.callback()
def _quiet() -> None:
    """pyHanko logs every failed path building with a traceback; the report says it already."""
    logging.getLogger("pyhanko").addHandler(logging.NullHandler())
    logging.getLogger("pyhanko_certvalidator").addHandler(logging.NullHandler())


@app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="Signed PDF")],
    root: Annotated[
        list[Path] | None,
        typer.Option("--root", help="Trusted root certificate (PEM/DER), repeatable"),
    ] = None,
    online: Annotated[
        bool, typer.Option("--online", help="Fetch OCSP/CRL/certificates over the network")
    ] = False,
    bio_key: Annotated[
        Path | None,
        typer.Option("--bio-key", help="Also decrypt the biometric data with this private key"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable result")] = False,
) -> None:
    """Check every signature: integrity, signer, time, level, changes after signing and the
    biometric data's document binding. Exit 0 only if all are intact and unmodified."""
    from booth.signing.biometrics import load_private_key
    from booth.signing.verify import describe, load_certs, verify_pdf

    try:
        data = file.read_bytes()
        roots = [c for p in root or [] for c in load_certs(p.read_bytes())]
        key = load_private_key(bio_key.read_bytes()) if bio_key else None
    except (OSError, ValueError) as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    try:
        report = verify_pdf(data, roots, allow_fetching=online, biometric_key=key, name=str(file))
    except Exception as exc:  # not a PDF at all, broken xref, …
        if as_json:
            print(json.dumps({"file": str(file), "ok": False, "problems": [str(exc)]}))
        else:
            err.print(f"[red]{file}: cannot be read as a signed PDF:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(describe(report))
    raise typer.Exit(0 if report.ok else 1)


@app.command("biometrics")
def biometrics(
    file: Annotated[Path, typer.Argument(help="Signed PDF")],
    key: Annotated[Path, typer.Option("--key", help="Biometric private key (PEM)")],
    field: Annotated[str | None, typer.Option("--field", help="Only this signature field")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The full time series as JSON")] = False,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Plot x/y/pressure to this PNG (matplotlib)")
    ] = None,
) -> None:
    """Decrypt the biometric time series (x, y, t, pressure) of each signature."""
    from booth.signing.biometrics import BiometricRecord, load_private_key
    from booth.signing.verify import verify_pdf

    try:
        private = load_private_key(key.read_bytes())
        data = file.read_bytes()
    except (OSError, ValueError) as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    records: dict[str, BiometricRecord] = {}
    report = verify_pdf(data, (), biometric_key=private, records=records, name=str(file))
    failed = [
        (s.field, s.biometrics.error)
        for s in report.signatures
        if s.biometrics.present and not s.biometrics.decrypted and (not field or s.field == field)
    ]
    if field:
        records = {k: v for k, v in records.items() if k == field}
    for name, error in failed:
        err.print(f"[red]{name}: {error}[/]", highlight=False)
    if not records:
        err.print("no biometric data could be decrypted", highlight=False)
        raise typer.Exit(1)
    if as_json:
        print(json.dumps({k: v.to_dict() for k, v in records.items()}, indent=1))
    else:
        for name, rec in records.items():
            d = rec.device
            print(
                f"{name}: {len(rec.strokes)} strokes, {rec.sample_count} samples, "
                f"{rec.duration:.3f} s; device {d.vendor} {d.model} {d.sample_rate_hz} Hz, "
                f"{d.pressure_levels} pressure levels, {d.width}x{d.height} "
                f"({d.units_per_mm:g}/mm); document sha256 {rec.document_sha256.hex()}"
            )
            print("  stroke  x      y      t[s]      pressure")
            for i, stroke in enumerate(rec.strokes):
                for p in stroke:
                    print(f"  {i:<6d}  {p.x:<5d}  {p.y:<5d}  {p.t:<8.4f}  {p.pressure}")
    if plot is not None:
        try:
            import matplotlib  # type: ignore[import-not-found, unused-ignore]

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            err.print("--plot needs matplotlib, which is not installed", highlight=False)
            raise typer.Exit(3) from None
        fig, axes = plt.subplots(len(records), 2, figsize=(10, 3.5 * len(records)), squeeze=False)
        for row, (name, rec) in zip(axes, records.items(), strict=True):
            for stroke in rec.strokes:
                row[0].plot([p.x for p in stroke], [-p.y for p in stroke])
                row[1].plot([p.t for p in stroke], [p.pressure for p in stroke])
            row[0].set_title(f"{name}: trajectory")
            row[1].set_title(f"{name}: pressure over time")
        fig.savefig(plot)
        print(f"plot written to {plot}")
    raise typer.Exit(1 if failed else 0)
