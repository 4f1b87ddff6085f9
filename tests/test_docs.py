"""The README and the docs pages: every relative link and image resolves (file and heading), outside code."""

import re
from pathlib import Path

import pytest

PAGES = [Path("README.md"), *sorted(Path("docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _prose(text: str) -> str:
    """The text outside fenced code blocks and inline code, where a bracket is Markdown and not code."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    heads = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", path.read_text(), flags=re.S), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_every_link_and_image_resolves(page):
    broken = []
    for target in LINK.findall(_prose(page.read_text())):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file, _, anchor = target.partition("#")
        path = (page.parent / file).resolve() if file else page.resolve()
        if not path.exists() or (anchor and anchor not in _anchors(path)):
            broken.append(target)
    assert not broken, f"{page}: broken links {broken}"


def test_the_link_check_can_fail(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n[ok](#title) [gone](nowhere.md) [bad](#nope) `[code](skipped.md)`\n")
    targets = [t for t in LINK.findall(_prose(page.read_text()))]
    assert targets == ["#title", "nowhere.md", "#nope"]
    assert _anchors(page) == {"title"}


def test_the_readme_fits_a_few_screens_with_the_picture_and_the_commands_first():
    lines = Path("README.md").read_text().splitlines()
    assert len(lines) <= 250
    top = "\n".join(lines[:40])
    assert "![" in top and "make run" in top and "make test" in top
