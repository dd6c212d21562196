"""The pupils' credentials sheet: escaping, completeness, and a real A4 print with Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from twinspace_kernel.sheets import credentials_sheet

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def pupils(n: int) -> list[dict]:
    return [
        {"display_name": f"Pupil Number{i:02d}", "name": f"pupil.n{i:02d}",
         "password": f"kodup{i % 7 + 2}"}
        for i in range(1, n + 1)
    ]


def test_everything_is_escaped():
    evil = [{"display_name": "<script>alert(1)</script> & Zoé", "name": "a<b",
             "password": "x\"y'z"}]
    html = credentials_sheet(evil, hub_url="http://hub/?a=<b>", space_title="<i>Rivers</i>",
                             school="<School>")
    assert "<script>" not in html and "<i>" not in html and "<School>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Zoé" in html
    assert "a&lt;b" in html and "http://hub/?a=&lt;b&gt;" in html
    assert "&lt;i&gt;Rivers&lt;/i&gt;" in html and "&lt;School&gt;" in html
    assert "x&quot;y&#x27;z" in html


def test_every_pupil_has_a_slip_with_all_fields():
    html = credentials_sheet(pupils(25), hub_url="https://twin.example.org",
                             space_title="Water around us")
    assert html.startswith("<!DOCTYPE html>")
    assert "@page { size: A4; margin: 10mm }" in html
    assert html.count('class="slip"') == 25
    assert html.count('class="sheet"') == 3
    assert html.count("https://twin.example.org") == 25
    assert html.count("TwinSpace: Water around us") == 25
    for p in pupils(25):
        assert f">{p['display_name']}<" in html and f">{p['name']}<" in html
    # Digits are marked so they cannot be read as letters.
    assert 'kodup<span class="digit">' in html
    assert "window.print()" in html


def test_capitals_are_marked():
    html = credentials_sheet([{"display_name": "A", "name": "a", "password": "Tiger7"}],
                             hub_url="h", space_title="s")
    assert '<span class="upper">T</span>iger<span class="digit">7</span>' in html
    assert "CAPITALS" in html


def test_empty_list_is_a_page_without_slips():
    html = credentials_sheet([], hub_url="h", space_title="s")
    assert "0 pupils · 0 A4 pages." in html and 'class="slip"' not in html


def test_the_sheet_speaks_the_teachers_language():
    pupils = [{"display_name": "Ana Lopez", "name": "ana", "password": "Tiger7"}]
    html = credentials_sheet(pupils, hub_url="https://hub.example", space_title="Rivière",
                             language="fr")
    assert '<html lang="fr">' in html
    for text in ("Identifiants des élèves — Rivière", "élève · 1 page A4.", "Mot de passe",
                 "Connexion sur https://hub.example", ">Imprimer</button>", "MAJUSCULES"):
        assert text in html
    german = credentials_sheet(pupils, hub_url="h", space_title="s", language="de")
    assert '<html lang="de">' in german and "Passwort" in german and "1 Schüler" in german


def print_to_pdf(html: str, tmp_path: Path) -> Path:
    source = tmp_path / "sheet.html"
    source.write_text(html, encoding="utf-8")
    pdf = tmp_path / "sheet.pdf"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--no-pdf-header-footer", f"--print-to-pdf={pdf}", source.as_uri()],
        check=True, capture_output=True, timeout=120,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    return pdf


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium is not installed")
@pytest.mark.skipif(not shutil.which("pdfinfo") or not shutil.which("pdftotext"),
                    reason="poppler-utils (pdfinfo, pdftotext) not installed: make chromium")
def test_printed_sheet_is_three_a4_pages_of_ten_slips(tmp_path):
    html = credentials_sheet(pupils(25), hub_url="https://twin.example.org",
                             space_title="Water around us", school="Collège Jean Moulin")
    pdf = print_to_pdf(html, tmp_path)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    assert re.search(r"^Pages:\s+3$", info, re.M), info
    assert re.search(r"^Page size:.*\(A4\)$", info, re.M), info
    per_page = []
    for page in (1, 2, 3):
        text = subprocess.run(
            ["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"],
            capture_output=True, text=True, check=True,
        ).stdout
        per_page.append(sorted(set(re.findall(r"pupil\.n\d\d", text))))
        # The screen header (title, Print button) is not printed.
        assert "Print" not in text and "Keep this sheet private" not in text
    assert [len(names) for names in per_page] == [10, 10, 5]
    assert per_page[0][0] == "pupil.n01" and per_page[2][-1] == "pupil.n25"
