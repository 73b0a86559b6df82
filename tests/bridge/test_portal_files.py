"""Every file the portal's index.html names (import map, module preloads, scripts, styles)
exists in the package, and every module the portal imports is in the import map or a file.
(A clean clone once lacked the vendored Preact because an ignore rule hid ``dist/``.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

WEB = Path(__file__).parents[2] / "cloud_bridge" / "web"


def _index() -> str:
    return (WEB / "index.html").read_text("utf-8")


def test_every_file_index_html_names_exists() -> None:
    text = _index()
    imports = json.loads(re.search(r'<script type="importmap">(.*?)</script>', text, re.S)[1])
    paths = list(imports["imports"].values())
    paths += re.findall(r'(?:href|src)="(/[^"]+)"', text)
    assert paths
    for path in paths:
        assert (WEB / path.lstrip("/")).is_file(), path


def test_every_import_of_a_portal_module_resolves() -> None:
    text = _index()
    mapped = json.loads(re.search(r'<script type="importmap">(.*?)</script>', text, re.S)[1])
    for module in WEB.glob("*.js"):
        for spec in re.findall(r"""^import .*?from ['"]([^'"]+)['"]""", module.read_text(), re.M):
            if spec.startswith("./"):
                assert (WEB / spec[2:]).is_file(), f"{module.name}: {spec}"
            else:
                assert spec in mapped["imports"], f"{module.name}: {spec}"


def test_vendored_libraries_keep_their_licence() -> None:
    for lib in ("preact", "htm"):
        assert (WEB / "vendor" / lib / "LICENSE").is_file()
