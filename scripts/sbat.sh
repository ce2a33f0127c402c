#!/bin/sh
# SPDX-License-Identifier: MIT
# Adds the SBAT data (shim's SBAT.md: a CSV of generation lines, the first
# naming the format) to an EFI application as an allocated, read-only .sbat
# section on the first page after every other section, so that SizeOfImage
# grows by one page only.
#   sbat.sh OBJCOPY OBJDUMP IN.efi SBAT.csv OUT.efi
set -eu
objcopy=$1 objdump=$2 in=$3 csv=$4 out=$5

# End of the highest allocated section (VMA + size), rounded up to a page.
top=0
for vs in $($objdump -h "$in" | awk '/^ *[0-9]+ / { s = $3; v = $4; getline;
		if ($0 ~ /ALLOC/) print v ":" s }'); do
	e=$((0x${vs%%:*} + 0x${vs##*:}))
	[ "$e" -gt "$top" ] && top=$e
done
end=$(printf '0x%x' $(((top + 4095) / 4096 * 4096)))
$objcopy --add-section .sbat="$csv" \
	--set-section-flags .sbat=contents,alloc,load,readonly,data \
	--change-section-address .sbat="$end" "$in" "$out"
