# SPDX-License-Identifier: MIT
# vqboot: `make` builds build/vqboot.efi and build/vqdiag.efi.
# `make run` boots the demo disk under QEMU; `make test` runs every test but
# the long suites (check-bench, check-e2e, fuzz-long), which have targets of
# their own.

include Make.defaults

# Objects of another architecture go to a folder of their own; its
# applications are named as UEFI names them (vqbootaa64.efi).
ifeq ($(EFI_SUFFIX),)
B := build
else
B := build/$(EFI_SUFFIX)
EFI_CFLAGS += -I$(B)/gen
endif

# The floor plan (README, "Layout"): apps -> efi -> {virtio, boot, gfx} -> lib.
# EFI-free layers are built for EFI and for the host.
CORE_SRCS := $(wildcard lib/*.c virtio/*.c boot/*.c gfx/*.c)
EFI_SRCS  := $(wildcard efi/*.c)
APPS      := vqboot vqdiag

# Each app links its own folder, efi/ and the EFI-free layers, through an
# archive so that only the objects it reaches end up in its image.
EFI_LIB_OBJS   := $(patsubst %.c,$(B)/efi/%.o,$(CORE_SRCS) $(EFI_SRCS))
HOST_CORE_OBJS := $(patsubst %.c,$(B)/host/%.o,$(CORE_SRCS))
app_objs = $(patsubst %.c,$(B)/efi/%.o,$(wildcard apps/$(1)/*.c))

# Objects wait for generated headers (order-only: a regenerated font does
# not rebuild everything; -MMD records the real dependency).
GEN_HDRS := $(if $(wildcard scripts/psf2c.sh),$(B)/gen/font_data.h)
ifeq ($(ARCH),aarch64)
# gnu-efi for arm64 lives in the cache (scripts/arm64.sh); fetch it if absent.
GEN_HDRS += $(EFI_CRT0)
$(EFI_CRT0):
	$(Q)VQ_CACHE=$(VQ_CACHE) sh scripts/arm64.sh gnu-efi >/dev/null
	$(Q)test -e $@ || { echo "error: $@ missing (EFI_ROOT=$(EFI_ROOT))"; exit 1; }
endif

all: $(APPS:%=$(B)/%.efi)
ifneq ($(EFI_SUFFIX),)
all: $(APPS:%=build/%$(EFI_SUFFIX).efi)
build/%$(EFI_SUFFIX).efi: $(B)/%.efi
	$(Q)cp $< $@
endif

# ---- font, converted at build time from Debian's console font ----------
FONT_PSF ?= /usr/share/consolefonts/Uni2-Terminus16.psf.gz
$(B)/gen/font_data.h: scripts/psf2c.sh $(FONT_PSF)
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	$(Q)sh scripts/psf2c.sh $(FONT_PSF) > $@.tmp && mv $@.tmp $@

# ---- EFI build ------------------------------------------------------------
$(B)/efi/%.o: %.c | $(GEN_HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(EFI_CFLAGS) -MMD -MP -c $< -o $@

$(B)/efi/libvq.a: $(EFI_LIB_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

.SECONDEXPANSION:
$(B)/%.so: $$(call app_objs,%) $(B)/efi/libvq.a
	@echo "  LD      $@"
	$(Q)$(LD) $(EFI_LDFLAGS) $(call app_objs,$*) $(B)/efi/libvq.a -o $@ $(EFI_LIBS)
	@# An EFI image has no loader to resolve symbols: refuse any left over.
	$(Q)if $(NM) -u $@ | grep -q .; then \
		echo "error: undefined symbols in $@:"; $(NM) -u $@; rm -f $@; exit 1; fi

# SBAT (shim's SBAT.md): shim refuses a second stage without a .sbat
# section. Raise SBAT_GENERATION when a release fixes a Secure Boot bypass;
# a distribution adds its own line with SBAT_VENDOR_LINE.
SBAT_GENERATION  ?= 1
SBAT_VERSION     ?= 0.1
SBAT_URL         ?= https://vqboot.invalid/
SBAT_VENDOR_LINE ?=
$(B)/gen/sbat.csv: Makefile
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	$(Q)printf '%s\n' 'sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md' \
		'vqboot,$(SBAT_GENERATION),vqboot,vqboot,$(SBAT_VERSION),$(SBAT_URL)' > $@.tmp
	$(Q)$(if $(SBAT_VENDOR_LINE),printf '%s\n' '$(SBAT_VENDOR_LINE)' >> $@.tmp)
	$(Q)mv $@.tmp $@

ifeq ($(ARCH),aarch64)
# Debian 12's binutils 2.40 accepts efi-app-aarch64 but writes a PE without
# an optional header; gnu-efi 3.0.15's arm64 way is the one that works: its
# crt0 starts with a PE header and the linker script lays the image out so
# that a raw copy of the sections is the file (see scripts/pe_sbat.py).
$(B)/%.efi: $(B)/%.so $(B)/gen/sbat.csv scripts/pe_sbat.py
	@echo "  EFI     $@"
	$(Q)$(OBJCOPY) -j .text -j .sdata -j .data -j .dynamic -j .rodata \
		-j .rel -j .rela -j .rel.* -j .rela.* -j .reloc -O binary $< $@.tmp
	$(Q)$(PYTHON) scripts/pe_sbat.py $@.tmp $(B)/gen/sbat.csv $@
	$(Q)rm -f $@.tmp
else
$(B)/%.efi: $(B)/%.so $(B)/gen/sbat.csv scripts/sbat.sh
	@echo "  EFI     $@"
	$(Q)$(OBJCOPY) -j .text -j .sdata -j .data -j .dynamic -j .dynsym \
		-j .rel -j .rela -j .rel.* -j .rela.* -j .reloc \
		--target efi-app-$(ARCH) --subsystem=10 $< $@.tmp
	$(Q)sh scripts/sbat.sh $(OBJCOPY) $(OBJDUMP) $@.tmp $(B)/gen/sbat.csv $@
	$(Q)rm -f $@.tmp
endif

# A test double of a shim that does not hook LoadImage, built on demand by
# tests/qemu/test_secureboot.py (`make build/tests/fakeshim.efi`).
$(B)/tests/fakeshim.so: $(B)/efi/tests/efi/fakeshim.o
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(LD) $(EFI_LDFLAGS) $< -o $@ $(EFI_LIBS)

# Objects made by chained pattern rules are not throwaway intermediates.
.SECONDARY:

# ---- host build (unit tests) ---------------------------------------------
$(B)/host/%.o: %.c | $(GEN_HDRS)
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $@"
	$(Q)$(HOSTCC) $(HOST_CFLAGS) -MMD -MP -c $< -o $@

$(B)/host/libvqcore.a: $(HOST_CORE_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

UNIT_SRCS    := $(wildcard tests/unit/test_*.c)
SUPPORT_SRCS := $(wildcard tests/support/*.c)
SUPPORT_OBJS := $(patsubst %.c,$(B)/host/%.o,$(SUPPORT_SRCS))
UNIT_BINS    := $(patsubst tests/unit/%.c,$(B)/host/tests/%,$(UNIT_SRCS))
CMOCKA_LIBS  := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

$(B)/host/tests/%: $(B)/host/tests/unit/%.o $(SUPPORT_OBJS) $(B)/host/libvqcore.a
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(HOSTCC) $(HOST_CFLAGS) $^ -o $@ $(CMOCKA_LIBS)

unit: $(UNIT_BINS)

# Images for the parser tests are made by scripts (mtools, sfdisk, mke2fs).
check-unit: unit
	$(Q)sh tests/unit/run.sh $(UNIT_BINS)

# ---- QEMU tests and the demo ----------------------------------------------
deps:
	$(Q)sh scripts/deps.sh

# The aarch64 tests (tests/qemu/test_aarch64*.py) boot the cross-built pair.
# The benchmark's own tests (marked `bench`: a bench table and the loader
# comparison, some six minutes of boots) are `make check-bench`, which CI
# runs after `make test`.
check-qemu: all
	$(Q)$(MAKE) --no-print-directory ARCH=aarch64 all
	$(Q)sh tests/qemu/run.sh -m "not bench"

check-bench: all
	$(Q)sh tests/qemu/run.sh -m bench

test: deps
	$(Q)$(MAKE) --no-print-directory layers test-docs
	$(Q)$(MAKE) --no-print-directory all unit
	$(Q)$(MAKE) --no-print-directory check-unit
	$(Q)$(MAKE) --no-print-directory check-installer
	$(Q)$(MAKE) --no-print-directory fuzz-smoke
	$(Q)$(MAKE) --no-print-directory check-qemu

GUI ?= none
run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)sh scripts/run.sh $(GUI) $(ARCH)

clean:
	rm -rf $(B)

.PHONY: all unit check-unit check-qemu check-bench test deps run clean

# build/e2e holds a Debian root and a package tree full of *.d directories.
-include $(shell find $(B) -path $(B)/e2e -prune -o -type f -name '*.d' -print 2>/dev/null)

# ==== fuzzing and lint (issue 5) ==========================================
# `make fuzz` builds every tests/fuzz/fuzz_*.c with libFuzzer, seeds
# build/fuzz/corpus/<name> (tests/fuzz/seeds.sh) and runs each target for
# FUZZ_SECONDS; crashes land in build/fuzz/crashes/<name>/.
# `make fuzz-smoke` (part of `make test`) replays tests/fuzz/regress/<name>
# and the seeds, then runs each target for FUZZ_SMOKE_SECONDS.
# `make lint` runs cppcheck and clang-tidy (scripts/lint.sh, .clang-tidy).
FUZZ_CC            ?= clang
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 4
FUZZ_TARGETS       ?= $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
# -fno-sanitize-recover: a UBSan report must stop the run to count as a crash.
FUZZ_CFLAGS := -std=gnu11 -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=all -g -O1 -I. -Ibuild/gen
FUZZ_LIB_SRCS := $(CORE_SRCS) $(addprefix tests/support/, \
                 file_bdev.c ring_sim.c fake_pci.c fake_scsi.c gpu_surface.c \
                 pe_image.c sparse_disk.c)
FUZZ_LIB_OBJS := $(patsubst %.c,$(B)/fuzz/obj/%.o,$(FUZZ_LIB_SRCS))
FUZZ_BINS     := $(FUZZ_TARGETS:%=$(B)/fuzz/%)

$(B)/fuzz/obj/%.o: %.c | $(GEN_HDRS)
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

# Checksums are pure loops over whole blocks: instrumented, CRC-32C alone
# takes most of a btrfs or XFS input's time, and it hides no parsing.
$(B)/fuzz/obj/lib/crc32c.o: FUZZ_CFLAGS += -fno-sanitize=fuzzer
$(B)/fuzz/obj/lib/crc32.o: FUZZ_CFLAGS += -fno-sanitize=fuzzer
# The formatter's branches say nothing about the input (format strings are
# constants) but cost every run that logs: sanitised, not traced.
$(B)/fuzz/obj/lib/fmt.o: FUZZ_CFLAGS += -fno-sanitize=fuzzer
# Nor are the fake devices and disks what is under test: their branches
# would only dilute the coverage signal and slow every run down.
$(B)/fuzz/obj/tests/support/%.o: FUZZ_CFLAGS += -fno-sanitize=fuzzer

# An archive, so that each target links only the modules it reaches and a
# harness may define a stand-in for a module it does not exercise.
$(B)/fuzz/libvqfuzz.a: $(FUZZ_LIB_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

# The host platform is linked as an object: it installs itself at start-up,
# and nothing would pull it out of the archive.
$(B)/fuzz/fuzz_%: $(B)/fuzz/obj/tests/fuzz/fuzz_%.o $(B)/fuzz/obj/tests/support/host_platform.o $(B)/fuzz/libvqfuzz.a
	@echo "  LINK    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $^ -o $@

# The file-system targets decode compressed extents on most inputs; the
# decompressors have their own targets (fuzz_inflate, fuzz_zstd, fuzz_lzo),
# so here they are sanitised but not traced: traced, they took most of each
# fuzz_btrfs run. Linked ahead of the archive, these copies win.
FUZZ_NOCOV_DECOMP := $(patsubst %.c,$(B)/fuzz/nocov/%.o,$(wildcard lib/inflate.c lib/zstd.c lib/lzo.c))
$(B)/fuzz/nocov/%.o: %.c | $(GEN_HDRS)
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fno-sanitize=fuzzer -MMD -MP -c $< -o $@

$(B)/fuzz/fuzz_btrfs: $(B)/fuzz/obj/tests/fuzz/fuzz_btrfs.o $(B)/fuzz/obj/tests/support/host_platform.o $(FUZZ_NOCOV_DECOMP) $(B)/fuzz/libvqfuzz.a
	@echo "  LINK    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $^ -o $@

# fuzz_gpu draws (text, a progress bar) to make the damage its flushes
# send; the drawing library's pixel loops took a third of each run. It is
# sanitised there but not traced: the device's answers are what that target
# is about, and gfx has its unit tests (tests/unit/test_gfx.c).
FUZZ_NOCOV_GFX := $(B)/fuzz/nocov/gfx/gfx.o

$(B)/fuzz/fuzz_gpu: $(B)/fuzz/obj/tests/fuzz/fuzz_gpu.o $(B)/fuzz/obj/tests/support/host_platform.o $(FUZZ_NOCOV_GFX) $(B)/fuzz/libvqfuzz.a
	@echo "  LINK    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $^ -o $@

# Keep the objects: make would delete them as intermediates.
.PRECIOUS: $(B)/fuzz/obj/%.o $(B)/fuzz/nocov/%.o

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	$(Q)sh tests/fuzz/run.sh fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	$(Q)sh tests/fuzz/run.sh smoke $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

# Every target in turn, FUZZ_SECONDS each, niced, on one core, into a corpus
# under $(VQ_CACHE) or cache/ that grows from run to run (FUZZ_CORPUS moves
# it); a table of executions, executions per second, coverage and crashes.
fuzz-long: fuzz-build
	$(Q)nice sh tests/fuzz/run.sh long $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The floor plan (scripts/layers.sh): no include runs up a floor or sideways.
layers:
	@mkdir -p $(B)
	$(Q)sh scripts/layers.sh

# The README names every QEMU test and what it checks (scripts/check-test-docs.sh).
test-docs:
	$(Q)sh scripts/check-test-docs.sh

lint: layers test-docs $(GEN_HDRS)
	$(Q)EFI_INC=$(EFI_INC) sh scripts/lint.sh

.PHONY: fuzz fuzz-build fuzz-smoke fuzz-long lint layers test-docs
# ==== end of fuzzing and lint ===============================================

# ==== decompressor throughput (host, -O2, no sanitizers) ====================
BENCH_DECOMP_SRCS := tests/bench/bench_decomp.c tests/support/host_platform.c \
	$(wildcard lib/inflate.c lib/zstd.c lib/lzo.c) lib/log.c lib/fmt.c lib/err.c
BENCH_DECOMP_STREAMS ?= kernel.z6.zlib mixed.z6.zlib text.z9.zlib mixed.raw.deflate \
	$(if $(wildcard lib/zstd.c),kernel.l3.zst mixed.l19.zst text.l1.zst mixed.long.zst) \
	$(if $(wildcard lib/lzo.c),kernel.x1.lzo mixed.x9.lzo text.x1.lzo)
$(B)/host/bench_decomp: $(BENCH_DECOMP_SRCS) $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $@"
	$(Q)$(HOSTCC) -std=gnu11 -O2 $(WARN) -I. $(BENCH_DECOMP_SRCS) -o $@

bench-decomp: $(B)/host/bench_decomp
	$(Q)sh tests/unit/run.sh >/dev/null
	$(Q)$(B)/host/bench_decomp $(B)/host/images/decomp $(BENCH_DECOMP_STREAMS)

.PHONY: bench-decomp

# ==== package, installer and end-to-end test (issue 15) ====================
# `make install DESTDIR=D` lays out what the Debian package ships (debian/);
# `make check-installer` (part of `make test`) runs the installer's host
# tests; `make check-e2e` builds the package and a Debian 12 disk image with
# it and boots it (tests/e2e, several minutes, needs root).
LIBDIR ?= /usr/lib/vqboot
install: all
	install -D -m 0644 $(B)/vqboot.efi $(DESTDIR)$(LIBDIR)/vqbootx64.efi
	install -D -m 0644 $(B)/vqdiag.efi $(DESTDIR)$(LIBDIR)/vqdiagx64.efi
	install -D -m 0755 installer/vqboot-install $(DESTDIR)/usr/bin/vqboot-install
	install -D -m 0644 installer/vqboot-install.8 $(DESTDIR)/usr/share/man/man8/vqboot-install.8
	install -D -m 0755 installer/hooks/kernel-postinst $(DESTDIR)/etc/kernel/postinst.d/zz-vqboot
	install -D -m 0755 installer/hooks/kernel-postrm $(DESTDIR)/etc/kernel/postrm.d/zz-vqboot
	install -D -m 0755 installer/hooks/initramfs-post-update \
		$(DESTDIR)/etc/initramfs/post-update.d/vqboot

check-installer:
	$(Q)$(PYTHON) -m pytest -c tests/installer/pytest.ini -p no:cacheprovider -n 2 -q tests/installer

check-e2e: all
	$(Q)sh tests/e2e/run.sh

.PHONY: install check-installer check-e2e
# ==== end of package, installer and end-to-end test =========================

# ==== host tests built for aarch64 (issue 16) ===============================
# `make check-unit-aa64` builds the EFI-free layers and the host tests with
# Debian's aarch64 cross compiler, -mstrict-align and UBSan (alignment
# included; ASan's shadow does not fit under qemu-user) and runs them under
# qemu-aarch64-static with Debian's arm64 cmocka (scripts/arm64.sh cmocka).
# Left out: tests of what differs on purpose by architecture (x86-64 PE
# machine, BLS `architecture x64`, the x86 barrier check) and test_stuck,
# which asks LeakSanitizer (part of ASan) to look away.
AA64_HOSTCC   ?= aarch64-linux-gnu-gcc
AA64_CMOCKA   ?= $(or $(VQ_CACHE),$(CURDIR)/cache)/cmocka-arm64/usr
AA64_H        := $(B)/host-aa64
AA64_CFLAGS   := -std=gnu11 -O1 -g $(WARN) -mstrict-align -fsanitize=undefined \
                 -fno-sanitize-recover=all -I. -Ibuild/gen -I$(AA64_CMOCKA)/include
AA64_SKIP     := test_barrier test_pe test_load test_uki test_layouts test_bls test_stuck
AA64_TESTS    := $(filter-out $(AA64_SKIP),$(patsubst tests/unit/%.c,%,$(UNIT_SRCS)))
AA64_SUPPORT  := $(patsubst %.c,$(AA64_H)/%.o,$(SUPPORT_SRCS))

$(AA64_CMOCKA)/include/cmocka.h:
	$(Q)sh scripts/arm64.sh cmocka >/dev/null

$(AA64_H)/%.o: %.c | $(GEN_HDRS) $(AA64_CMOCKA)/include/cmocka.h
	@mkdir -p $(dir $@)
	@echo "  AA64CC  $@"
	$(Q)$(AA64_HOSTCC) $(AA64_CFLAGS) -MMD -MP -c $< -o $@

$(AA64_H)/libvqcore.a: $(patsubst %.c,$(AA64_H)/%.o,$(CORE_SRCS))
	$(Q)rm -f $@ && ar rcs $@ $^

$(AA64_H)/bin/%: $(AA64_H)/tests/unit/%.o $(AA64_SUPPORT) $(AA64_H)/libvqcore.a
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(AA64_HOSTCC) $(AA64_CFLAGS) $^ -o $@ -L$(AA64_CMOCKA)/lib/aarch64-linux-gnu -lcmocka

# tests/unit/run.sh runs each test by path: a wrapper starts it under qemu-user.
$(AA64_H)/run/%: $(AA64_H)/bin/%
	@mkdir -p $(dir $@)
	$(Q)printf '#!/bin/sh\nQEMU_LD_PREFIX=/usr/aarch64-linux-gnu LD_LIBRARY_PATH=%s exec qemu-aarch64-static %s "$$@"\n' \
		$(AA64_CMOCKA)/lib/aarch64-linux-gnu $(CURDIR)/$< > $@ && chmod +x $@

check-unit-aa64: $(AA64_TESTS:%=$(AA64_H)/run/%)
	$(Q)sh tests/unit/run.sh $^

.PHONY: check-unit-aa64
# ==== end of host tests built for aarch64 ===================================
