"""The book's documents: the consumer's copy (PDF), the register (PDF, CSV).

Text is drawn as text (never interpreted as markup), with DejaVu Sans for Spanish. The
documents are the legal record, in Spanish whatever the reader's language; every date in
them is the date in Lima (:func:`~trustseal.book.deadlines.lima_time`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from fpdf import FPDF

from badges.widths import FONTS
from trustseal.book.deadlines import lima_date, lima_time
from trustseal.book.service import format_number, state
from trustseal.spreadsheets import safe_cell

if TYPE_CHECKING:
    from trustseal.book.models import BookEntry
    from trustseal.merchants.models import Merchant

KIND_NAMES = {"reclamo": "Reclamo", "queja": "Queja", "felicitacion": "Felicitación"}
# How the register names an entry's state (a felicitación needs no answer).
STATE_NAMES = {
    "open": "pendiente de respuesta",
    "overdue": "vencido sin respuesta",
    "answered": "respondido",
}
PRAISE_STATE = "no requiere respuesta"
NOTICE = (
    "La formulación del reclamo no impide acudir a otras vías de solución de controversias "
    "ni es requisito previo para interponer una denuncia ante el INDECOPI. El proveedor debe "
    "responder el reclamo o queja en un plazo no mayor a quince (15) días hábiles "
    "improrrogables."
)
CSV_COLUMNS = [
    "numero",
    "tipo",
    "fecha",
    "vence",
    "estado",
    "consumidor",
    "documento",
    "correo",
    "telefono",
    "direccion",
    "bien",
    "monto",
    "moneda",
    "descripcion",
    "detalle",
    "pedido",
    "respuesta",
    "fecha_respuesta",
]


def _pdf() -> FPDF:
    pdf = FPDF(format="A4")
    pdf.add_font("DejaVu", "", str(FONTS["regular"]))
    pdf.add_font("DejaVu", "B", str(FONTS["bold"]))
    pdf.set_auto_page_break(True, margin=15)
    pdf.set_font("DejaVu", size=10)
    return pdf


def _line(pdf: FPDF, label: str, value: object) -> None:
    pdf.set_font("DejaVu", "B", 9)
    pdf.cell(0, 5, label, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    pdf.multi_cell(
        0, 5, str(value) if value not in (None, "") else "—", new_x="LMARGIN", new_y="NEXT"
    )


def lima_stamp(moment: datetime) -> str:
    """``2026-03-01 22:30 (hora de Lima)``: when something happened, as the documents say it."""
    return f"{lima_time(moment):%Y-%m-%d %H:%M} (hora de Lima)"


def state_name(entry: BookEntry) -> str:
    """The entry's state in the register's words."""
    return PRAISE_STATE if entry.kind == "felicitacion" else STATE_NAMES[state(entry)]


def _header(pdf: FPDF, merchant: Merchant, title: str) -> None:
    pdf.set_font("DejaVu", "B", 14)
    pdf.cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    pdf.multi_cell(
        0,
        5,
        f"{merchant.legal_name or merchant.name} — RUC {merchant.ruc or '—'}\n"
        f"{merchant.address or ''}",
        new_x="LMARGIN",
        new_y="NEXT",
    )


def entry_pdf(entry: BookEntry, merchant: Merchant) -> bytes:
    """The consumer's copy of a Hoja de Reclamación (or felicitación)."""
    pdf = _pdf()
    pdf.add_page()
    _header(pdf, merchant, "Libro de Reclamaciones — Hoja de Reclamación")
    _line(pdf, "Número", f"{format_number(entry)} — {KIND_NAMES[entry.kind]}")
    _line(pdf, "Fecha", lima_stamp(entry.filed_at))
    _line(
        pdf,
        "1. Consumidor",
        f"{entry.consumer_name or '—'} — {entry.document_type or ''} "
        f"{entry.document_number or ''}\n{entry.address or ''}\n"
        f"{entry.phone or ''} {entry.email or ''}",
    )
    if entry.guardian:
        g = entry.guardian
        _line(
            pdf,
            "Padre, madre o apoderado",
            f"{g.get('name')} — {g.get('document_type')} {g.get('document_number')}",
        )
    _line(
        pdf,
        "2. Bien contratado",
        f"{entry.item_type}: {entry.description or ''}\n"
        f"Monto: {entry.amount or '—'} {entry.currency or ''}",
    )
    _line(pdf, "3. Detalle", entry.detail)
    _line(pdf, "Pedido del consumidor", entry.request)
    _line(pdf, "4. Observaciones y acciones del proveedor", entry.answer)
    _line(
        pdf,
        "Fecha de comunicación de la respuesta",
        lima_date(entry.answered_at).isoformat() if entry.answered_at else None,
    )
    if entry.due_at:
        _line(pdf, "Plazo de respuesta", entry.due_at.isoformat())
    pdf.ln(3)
    pdf.set_font("DejaVu", "", 8)
    pdf.multi_cell(0, 4, NOTICE)
    return bytes(pdf.output())


def register_pdf(entries: Iterable[BookEntry], merchant: Merchant) -> bytes:
    """The register of a merchant's book, one block per entry (for an inspection)."""
    pdf = _pdf()
    pdf.add_page()
    _header(pdf, merchant, "Libro de Reclamaciones — Registro")
    for entry in entries:
        pdf.set_font("DejaVu", "B", 10)
        pdf.cell(
            0,
            6,
            f"{format_number(entry)} · {KIND_NAMES[entry.kind]} · "
            f"{lima_date(entry.filed_at).isoformat()} · {state_name(entry)}",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        lines = [
            f"{entry.consumer_name or '—'} ({entry.document_type or ''} "
            f"{entry.document_number or ''})",
            entry.detail or "",
            f"Pedido: {entry.request or '—'}",
            f"Respuesta: {entry.answer or '—'}",
        ]
        if entry.due_at:
            lines.append(f"Plazo de respuesta: {entry.due_at.isoformat()}")
        if entry.answered_at:
            lines.append(
                f"Fecha de comunicación de la respuesta: {lima_date(entry.answered_at).isoformat()}"
            )
        pdf.set_font("DejaVu", "", 9)
        pdf.multi_cell(0, 4.5, "\n".join(lines), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    return bytes(pdf.output())


def register_csv(entries: Iterable[BookEntry]) -> str:
    """The register as CSV (UTF-8), one row per entry."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow(
            safe_cell(value)
            for value in [
                format_number(e),
                e.kind,
                lima_date(e.filed_at).isoformat(),
                e.due_at.isoformat() if e.due_at else "",
                state(e),
                e.consumer_name or "",
                f"{e.document_type or ''} {e.document_number or ''}".strip(),
                e.email or "",
                e.phone or "",
                e.address or "",
                e.item_type,
                e.amount if e.amount is not None else "",
                e.currency or "",
                e.description or "",
                e.detail or "",
                e.request or "",
                e.answer or "",
                lima_date(e.answered_at).isoformat() if e.answered_at else "",
            ]
        )
    return out.getvalue()
