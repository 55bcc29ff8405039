#!/usr/bin/env bash
# Docs: install the docs extra and build the site with every warning an error
# (broken links, missing pages, missing snippets, docstring problems).
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install -q -e ".[docs]"
NO_MKDOCS_2_WARNING=1 python -m mkdocs build --strict --site-dir "${DOCS_SITE_DIR:-site}"
