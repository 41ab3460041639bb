"""Sphinx configuration: numpydoc API pages, a sphinx-gallery gallery, MyST guides.

Build (warnings are errors, as in CI)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

import os
import warnings

import skfuse

project = "skfuse"
copyright = "2026, the skfuse developers"
release = skfuse.__version__
version = release

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*/*.py", "**.zip",
                    "auto_examples/**/*.codeobj.json", "sg_execution_times.rst"]
templates_path = ["_templates"]

# API pages: one per public object, generated from the autosummary tables in api.rst.
autosummary_generate = True
autodoc_typehints = "none"
numpydoc_show_class_members = False  # the class template lists the methods
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# The guides are Markdown; ``#anchor`` links need heading anchors.
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence"]

# The gallery runs every example (about a minute and a half on 2 cores).
# SKFUSE_DOCS_PLOT=0 skips running them, for a quick check of the text.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "plot_gallery": os.environ.get("SKFUSE_DOCS_PLOT", "1") != "0",
    "within_subsection_order": "FileNameSortKey",
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("skfuse",),
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "show_memory": False,
}

html_theme = "pydata_sphinx_theme"
html_title = f"skfuse {release}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path = []

# sphinx-gallery draws off screen; matplotlib's note that plt.show() does nothing is noise.
warnings.filterwarnings("ignore", category=UserWarning,
                        message="Matplotlib is currently using agg")
