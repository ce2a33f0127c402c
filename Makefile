# SPDX-License-Identifier: MIT
# vqboot: `make` builds build/vqboot.efi and build/vqdiag.efi.
# `make run` boots the demo disk under QEMU; `make test` runs every test.

include Make.defaults

B := build

# EFI-free code (boot logic and virtio stack): built for EFI and for the host.
CORE_SRCS := $(wildcard boot/*.c virtio/*.c)
EFI_SRCS  := $(wildcard efi/*.c)
APPS      := vqboot vqdiag

EFI_CORE_OBJS := $(patsubst %.c,$(B)/efi/%.o,$(CORE_SRCS) $(EFI_SRCS))
HOST_CORE_OBJS := $(patsubst %.c,$(B)/host/%.o,$(CORE_SRCS))

# Objects wait for generated headers (order-only: a regenerated font does
# not rebuild everything; -MMD records the real dependency).
GEN_HDRS := $(if $(wildcard scripts/psf2c.sh),$(B)/gen/font_data.h)

all: $(APPS:%=$(B)/%.efi)

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

$(B)/%.so: $(B)/efi/apps/%.o $(EFI_CORE_OBJS)
	@echo "  LD      $@"
	$(Q)$(LD) $(EFI_LDFLAGS) $^ -o $@ $(EFI_LIBS)
	@# An EFI image has no loader to resolve symbols: refuse any left over.
	$(Q)if $(NM) -u $@ | grep -q .; then \
		echo "error: undefined symbols in $@:"; $(NM) -u $@; rm -f $@; exit 1; fi

$(B)/%.efi: $(B)/%.so
	@echo "  EFI     $@"
	$(Q)$(OBJCOPY) -j .text -j .sdata -j .data -j .dynamic -j .dynsym \
		-j .rel -j .rela -j .rel.* -j .rela.* -j .reloc \
		--target efi-app-$(ARCH) --subsystem=10 $< $@

.SECONDARY: $(APPS:%=$(B)/%.so) $(APPS:%=$(B)/efi/apps/%.o)

# ---- host build (unit tests) ---------------------------------------------
$(B)/host/%.o: %.c | $(GEN_HDRS)
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $@"
	$(Q)$(HOSTCC) $(HOST_CFLAGS) -MMD -MP -c $< -o $@

$(B)/host/libvqcore.a: $(HOST_CORE_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

UNIT_SRCS    := $(wildcard tests/unit/test_*.c)
SUPPORT_SRCS := $(wildcard tests/unit/support/*.c)
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

check-qemu: all
	$(Q)sh tests/qemu/run.sh

test: deps
	$(Q)$(MAKE) --no-print-directory all unit
	$(Q)$(MAKE) --no-print-directory check-unit
	$(Q)$(MAKE) --no-print-directory check-qemu

GUI ?= none
run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)sh scripts/run.sh $(GUI)

clean:
	rm -rf $(B)

.PHONY: all unit check-unit check-qemu test deps run clean

-include $(shell find $(B) -name '*.d' 2>/dev/null)
