#!/usr/bin/env bash
# Install freely licensed handwriting fonts for the synthetic page generator (handocr.datasets.synth).
#
#   bash scripts/install_fonts.sh [DEST]          # default DEST: .fonts (ignored by git: it gets its own .gitignore)
#   bash scripts/install_fonts.sh --debian [DEST] # also apt-get Debian's handwriting font packages (root)
#
# The fonts come from the npm registry (@fontsource packages of Google Fonts families, OFL-1.1 or
# Apache-2.0; each family's licence is copied beside its files): the Latin subset, which has every
# French letter, in the regular and, where there is one, the bold weight, converted from WOFF to TTF
# with fontTools when it is installed (Pillow reads the WOFF files as they are otherwise). Caps-only
# faces are left out on purpose. Fonts are never committed. Idempotent: families already there are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN=0
if [[ "${1:-}" == "--debian" ]]; then DEBIAN=1; shift; fi
DEST="${1:-.fonts}"
VERSION="5.3.0"
PYTHON="${PYTHON:-.venv/bin/python}"
[[ -x "$PYTHON" ]] || PYTHON=python3

FAMILIES=(
  caveat indie-flower homemade-apple kalam patrick-hand shadows-into-light dancing-script
  cedarville-cursive la-belle-aurore reenie-beanie gloria-hallelujah nothing-you-could-do
  covered-by-your-grace architects-daughter handlee gochi-hand schoolbell the-girl-next-door
  bad-script neucha marck-script satisfy sacramento annie-use-your-telescope herr-von-muellerhoff
  zeyada playwrite-fr-moderne playwrite-fr-trad
)

command -v npm >/dev/null || { echo "npm is needed (apt-get install npm)" >&2; exit 1; }
mkdir -p "$DEST"
printf '*\n' >"$DEST/.gitignore"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for family in "${FAMILIES[@]}"; do
  if compgen -G "$DEST/$family-*.*" >/dev/null; then continue; fi
  if ! (cd "$work" && npm pack --silent "@fontsource/$family@$VERSION" >/dev/null 2>&1); then
    echo "skipped $family: npm pack @fontsource/$family@$VERSION failed" >&2
    continue
  fi
  mkdir -p "$work/$family"
  tar -xzf "$work/fontsource-$family-$VERSION.tgz" -C "$work/$family"
  files="$work/$family/package/files"
  boldest="$(ls "$files" | sed -n "s/^$family-latin-\([0-9]*\)-normal\.woff$/\1/p" | sort -n | tail -1)"
  for weight in 400 "$boldest"; do
    src="$files/$family-latin-$weight-normal.woff"
    [[ -f "$src" ]] && cp "$src" "$DEST/$family-$weight.woff"
  done
  cp "$work/$family/package/LICENSE" "$DEST/$family.LICENSE" 2>/dev/null || true
done

if [[ "$DEBIAN" == 1 ]]; then
  apt-get install -y -q fonts-dancingscript fonts-dkg-handwriting fonts-femkeklaver fonts-breip fonts-rufscript >/dev/null
  for f in /usr/share/fonts/truetype/{dancingscript,dkg-handwriting,femkeklaver,breip,rufscript}/*.[ot]tf; do
    [[ -f "$f" ]] && ln -sf "$f" "$DEST/debian-$(basename "$f")"
  done
fi

# WOFF -> TTF (any tool reads TTF), then list what each face can write.
"$PYTHON" - "$DEST" <<'EOF'
import sys
from pathlib import Path

dest = Path(sys.argv[1])
try:
    from fontTools.ttLib import TTFont
except ImportError:
    TTFont = None
for woff in sorted(dest.glob("*.woff")):
    if TTFont is not None:
        font = TTFont(str(woff))
        font.flavor = None
        font.save(str(woff.with_suffix(".ttf")))
        woff.unlink()
sys.path.insert(0, "src")
from handocr.datasets.synth.fonts import font_files, FontFace

french = "àâçéèêëîïôùûüÿœÀÇÉÈÊÔ"
usable = 0
for path in font_files([dest]):
    face = FontFace(path)
    missing = "".join(c for c in french if not face.covers(c))
    ok = face.is_handwriting_usable()
    usable += ok
    print(f"{path.name:42s} {'ok' if ok else 'left out (caps-only or no letters)'}"
          + (f"  missing: {missing}" if missing else ""))
print(f"{usable} usable handwriting faces in {dest}")
EOF
