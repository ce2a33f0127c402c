#!/bin/sh
# SPDX-License-Identifier: MIT
# The floor plan, checked from the code's own includes (part of `make lint`):
#
#   apps/vqboot/  apps/vqdiag/      each app's own code; never each other
#             efi/                  what touches UEFI; never apps/
#   virtio/   boot/   gfx/          EFI-free, side by side: none includes
#                                   another, nor efi/ or apps/
#             lib/                  the ground floor: only lib/
#
# A quoted include is root-relative ("lib/log.h"); one with no folder, or
# that climbs with "..", is refused too, so nothing slips past the check.
# Exits 1 naming every include that runs up a floor or sideways.
set -u
cd "$(dirname "$0")/.." || exit 2

allowed() { # folder of the including file -> folders it may include
	case $1 in
	lib) echo "lib" ;;
	virtio | boot | gfx) echo "lib $1" ;;
	efi) echo "lib virtio boot gfx efi" ;;
	apps/vqboot) echo "lib virtio boot gfx efi apps/vqboot" ;;
	apps/vqdiag) echo "lib virtio boot gfx efi apps/vqdiag" ;;
	*) echo "" ;;
	esac
}

bad=0
files=$(find lib virtio boot gfx efi apps -name '*.[ch]' | sort)
for f in $files; do
	dir=$(dirname "$f")
	ok=$(allowed "$dir")
	# shellcheck disable=SC2016 # the sed program is literal
	sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" |
	while read -r inc; do
		case $inc in
		font_data.h) [ "$dir" = gfx ] && continue ;; # generated into build/gen
		esac
		case $inc in
		*..* | */) echo "layers: $f includes \"$inc\": climbs a folder"; echo x; continue ;;
		esac
		to=$(dirname "$inc")
		[ "$to" = "." ] && { echo "layers: $f includes \"$inc\": not root-relative"; echo x; continue; }
		case $to in apps/*) ;; *) to=${to%%/*} ;; esac
		hit=no
		for a in $ok; do [ "$a" = "$to" ] && hit=yes; done
		[ $hit = yes ] || { echo "layers: $f ($dir) includes \"$inc\" ($to): not allowed from $dir (may include: $ok)"; echo x; }
	done
done > build/layers.out 2>&1
grep -v '^x$' build/layers.out
bad=$(grep -c '^x$' build/layers.out)
echo "layers: $(echo "$files" | wc -l) files checked, $bad includes out of place"
[ "$bad" -eq 0 ]
