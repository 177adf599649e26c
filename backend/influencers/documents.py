"""Plain text out of style documents: PDF (pypdf), plain text and Markdown."""

from __future__ import annotations

import io
from dataclasses import dataclass

from backend.errors import InvalidInput

MAX_DOC_BYTES = 20 * 1024 * 1024
MAX_TEXT_CHARS = 200_000
TEXT_SUFFIXES = (".txt", ".md", ".markdown")


@dataclass(frozen=True)
class Extracted:
    text: str
    pages: int
    mime: str


def _decode(data: bytes) -> str:
    for enc in ("utf-8-sig", "utf-16"):
        try:
            text = data.decode(enc)
            if "\x00" not in text:
                return text
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def extract_text(filename: str, data: bytes) -> Extracted:
    """The document's text; InvalidInput for unknown types, broken files and scanned PDFs."""
    name = filename.lower()
    if not data:
        raise InvalidInput("empty document", [f"{filename} has no content"])
    if len(data) > MAX_DOC_BYTES:
        raise InvalidInput("document too large", [f"{filename} is over {MAX_DOC_BYTES // (1024 * 1024)} MB"])
    if name.endswith(".pdf") or data[:5] == b"%PDF-":
        return _pdf(filename, data)
    if name.endswith(TEXT_SUFFIXES):
        text = _decode(data).strip()
        if not text:
            raise InvalidInput("empty document", [f"{filename} contains only whitespace"])
        mime = "text/markdown" if name.endswith((".md", ".markdown")) else "text/plain"
        return Extracted(text[:MAX_TEXT_CHARS], 1, mime)
    raise InvalidInput("unsupported document type", [f"{filename}: upload a PDF, .txt or .md file"])


def _pdf(filename: str, data: bytes) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                reader.decrypt("")
            except Exception:  # noqa: BLE001 - any failure means we cannot read it
                raise InvalidInput("encrypted PDF", [f"{filename} is password-protected; upload an unprotected copy"]) from None
        pages = [(p.extract_text() or "") for p in reader.pages]
    except InvalidInput:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as err:
        raise InvalidInput("unreadable PDF", [f"{filename}: {err}"]) from None
    text = "\n\n".join(t.strip() for t in pages if t.strip())
    if not text.strip():
        raise InvalidInput(
            "no text in PDF",
            [f"{filename} has {len(pages)} page(s) but no text layer — it looks scanned. "
             "Run OCR on it first or paste the text into a .txt file."],
        )
    return Extracted(text[:MAX_TEXT_CHARS], len(pages), "application/pdf")
