#!/usr/bin/env sh
# Rebuilds DejaVuSans-subset.ttf, the font drawn into the PNG plots, from Debian's fonts-dejavu-core
# (DejaVu Sans 2.37) with fontTools' pyftsubset (`pip install fonttools`): Basic Latin, Latin-1,
# Greek, super/subscripts and the few math signs our labels use; hinting dropped (the plots are
# rasterised by ab_glyph, which does not hint). The licence (LICENSE-DejaVu.txt) allows this.
set -eu
cd "$(dirname "$0")"
pyftsubset /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf \
  --unicodes='U+0020-007E,U+00A0-00FF,U+0370-03FF,U+2010-2027,U+2070-209F,U+2190-2193,U+2202,U+2207,U+2208,U+2211,U+2212,U+221A,U+221E,U+2248,U+2260,U+2264,U+2265' \
  --no-hinting --desubroutinize --layout-features='kern,liga' \
  --output-file=DejaVuSans-subset.ttf
