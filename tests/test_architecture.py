"""The package's shape: the loop draws nothing, the run-folder format lives in one module, choices match registries."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

import vision_collapse
from vision_collapse import config

PACKAGE = Path(vision_collapse.__file__).parent


@pytest.mark.slow  # a fresh interpreter imports torch
def test_importing_the_loop_and_a_gmm_imports_neither_matplotlib_nor_diffusers():
    # every run a study starts is a fresh process: diffusers would cost each GMM or VAE run 1.5-3 s for nothing
    code = ("import sys, vision_collapse.loop.experiment, vision_collapse.models.gmm, vision_collapse.models.training; "
            "print([m for m in ('matplotlib', 'diffusers') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_choice_lists_equal_the_registries():
    from vision_collapse.data import READERS
    from vision_collapse.models import MODELS
    from vision_collapse.models.diffusion import SAMPLERS

    assert set(config.DATASETS) == set(READERS)
    assert set(config.MODEL_KINDS) == set(MODELS)
    assert set(config.SAMPLERS) == set(SAMPLERS)


# Layout names and provenance parsing that only run_folder.py may spell.
LAYOUT = re.compile(r'''["'](plots|grids|tensorboard|samples|candidates|report\.html|config\.yaml|metrics\.csv|'''
                    r'''summary\.csv|manifest\.csv|aggregate\.csv|grid\.png|mosaic\.png|unrecognisable)["']|'''
                    r'''gen_\{|f["']gen\{|startswith\(["']real/|\.tmp\{''')


def test_only_the_run_folder_module_spells_the_layout():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name in ("run_folder.py", "files.py"):  # files.py: the temporary-name rule, below the run folder
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if LAYOUT.search(line.split("#")[0]):
                offenders.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
