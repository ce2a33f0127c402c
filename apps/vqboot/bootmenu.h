/* SPDX-License-Identifier: MIT */
/*
 * The boot menu on the firmware console (serial first) and on the
 * virtio-gpu screen: feeds keys and time to the EFI-free model in
 * boot/menu.h and draws its view.
 */
#ifndef VQ_BOOTMENU_H
#define VQ_BOOTMENU_H

#include "efi/vqefi.h"
#include "boot/menu.h"

/**
 * Run @m until it returns BOOT or QUIT (in @ret). With @idle_quit_us > 0, a
 * menu that sees no key for that long quits (used after a failed boot, so an
 * unattended machine falls through to the firmware's next boot option).
 */
void bootmenu_run(struct menu *m, const char *title, uint64_t idle_quit_us,
		  struct menu_event *ret);

#endif
