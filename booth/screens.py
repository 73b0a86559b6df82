"""What the booth screen shows, page by page. German first, short sentences, no time pressure.

The controller only picks a page and its parameters; the kiosk UI (a later issue) renders it in
very large type. Parameters never contain personal data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PAGES: dict[str, tuple[str, str]] = {
    # page: (headline, body) — body may use {placeholders} from the parameters
    "blank": ("", ""),
    "starting": ("Einen Moment bitte", "Das Bürgerbüro wird vorbereitet."),
    "welcome": (
        "Willkommen im digitalen Bürgerbüro",
        "Treten Sie einfach ein. Sie werden automatisch mit einer Mitarbeiterin oder einem "
        "Mitarbeiter des Landkreises verbunden.",
    ),
    "connecting": (
        "Sie werden verbunden",
        "Bitte nehmen Sie Platz. Gleich ist jemand für Sie da.",
    ),
    "waiting": (
        "Bitte haben Sie etwas Geduld",
        "Alle Mitarbeiterinnen und Mitarbeiter sind gerade im Gespräch. Sie sind an Position "
        "{position}. Voraussichtliche Wartezeit: etwa {wait_minutes} Minuten.",
    ),
    "call": ("Sie sind verbunden", "Ihr Gesprächspartner: {agent}"),
    "transferring": (
        "Sie werden weiterverbunden",
        "Bitte bleiben Sie sitzen. Wir verbinden Sie mit der zuständigen Stelle.",
    ),
    "signing": (
        "Bitte unterschreiben Sie",
        "Unterschreiben Sie mit dem Stift auf dem Unterschriften-Feld vor Ihnen.",
    ),
    "unavailable": (
        "Im Moment ist leider niemand erreichbar",
        "Unsere Öffnungszeiten: {opening_hours}. Telefon: {phone}.",
    ),
    "link_lost": (
        "Die Verbindung wurde unterbrochen",
        "Das tut uns leid. Bitte versuchen Sie es später noch einmal.",
    ),
    "farewell": ("Vielen Dank für Ihren Besuch", "Auf Wiedersehen! Die Tür öffnet sich."),
    "out_of_service": (
        "Dieses Bürgerbüro ist vorübergehend außer Betrieb",
        "Bitte versuchen Sie es später noch einmal. Telefon: {phone}.",
    ),
    "emergency": ("Notfall", "Bitte verlassen Sie die Kabine. Die Tür ist offen."),
    "maintenance": ("Wartung", "Dieses Bürgerbüro wird gerade gewartet."),
}


@dataclass(frozen=True, slots=True)
class Screen:
    page: str
    params: dict[str, Any] = field(default_factory=dict)

    def render(self) -> tuple[str, str]:
        headline, body = PAGES[self.page]
        try:
            return headline, body.format(**self.params)
        except (KeyError, IndexError, ValueError):
            return headline, body
