"""The booth screens' texts: every language has exactly the keys German has, every page of the
controller's screen model has a headline and a body in every language, placeholders match."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from booth.screen_server import LANGUAGES, WEB_DIR
from booth.screens import PAGES

I18N = WEB_DIR / "i18n"


def _texts(lang: str) -> dict[str, Any]:
    return json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            assert isinstance(value, str), f"{prefix}{key} is not a text"
            out[f"{prefix}{key}"] = value
    return out


def test_the_four_languages_are_there() -> None:
    assert sorted(p.stem for p in I18N.glob("*.json")) == sorted(LANGUAGES)
    assert LANGUAGES[0] == "de"  # German first, the default


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "de"])
def test_same_keys_as_german(lang: str) -> None:
    german = _flat(_texts("de"))
    other = _flat(_texts(lang))
    assert sorted(set(german) - set(other)) == [], f"{lang}.json lacks these keys"
    assert sorted(set(other) - set(german)) == [], f"{lang}.json has keys German lacks"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_controller_page_has_texts(lang: str) -> None:
    texts = _texts(lang)
    for page in PAGES:
        assert page in texts, f"{lang}.json has no texts for page {page!r}"
        assert {"headline", "body"} <= set(texts[page]), f"{lang}.json: {page}"
        if page != "blank":
            assert texts[page]["headline"].strip(), f"{lang}.json: {page} has no headline"


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "de"])
def test_same_placeholders_as_german(lang: str) -> None:
    german = _flat(_texts("de"))
    other = _flat(_texts(lang))
    for key, text in german.items():
        assert set(re.findall(r"\{(\w+)\}", other[key])) == set(re.findall(r"\{(\w+)\}", text)), (
            f"{lang}.json: {key}"
        )


def test_required_wording() -> None:
    de = _texts("de")
    assert de["transferring"]["headline"] == "Bitte einen Moment"
    assert de["emergency"]["headline"] == "Bitte verlassen Sie die Kabine"
    assert de["call"]["video"] == "Video folgt"
    assert [de["touch"][k] for k in ("sign_clear", "sign_confirm", "sign_decline")] == [
        "Löschen und neu unterschreiben",
        "Unterschreiben",
        "Nicht unterschreiben",
    ]
    assert [de["outside"][k] for k in ("free", "occupied", "out_of_service")] == [
        "frei",
        "besetzt",
        "außer Betrieb",
    ]
    assert de["wait_words"]["lt1"] == "weniger als eine Minute"
    assert de["wait_words"]["quarter"] == "etwa eine Viertelstunde"
    for lang in LANGUAGES:  # each language button in its own language, on every page
        assert _texts(lang)["languages"] == de["languages"]


def test_easy_german_uses_short_sentences() -> None:
    """Leichte Sprache: short sentences, one idea each (here: at most 12 words a sentence)."""
    for key, text in _flat(_texts("de-simple")).items():
        for sentence in re.split(r"[.!?:]\s+", text):
            assert len(sentence.split()) <= 12, f"de-simple.json {key}: {sentence!r}"


def test_no_page_uses_browser_storage() -> None:
    for path in WEB_DIR.glob("*.js"):
        source = path.read_text(encoding="utf-8")
        for forbidden in ("localStorage", "sessionStorage", "indexedDB", "document.cookie"):
            assert forbidden not in source, f"{path.name} uses {forbidden}"
        assert "innerHTML" not in source, f"{path.name}: text from the network is never HTML"


def test_web_files_are_package_data() -> None:
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    assert 'booth = ["examples/*.toml", "web/**/*"]' in pyproject
