/* SPDX-License-Identifier: MIT */
/*
 * A drawing surface on a virtio-gpu framebuffer, for both apps' screens:
 * gfx/ draws and tracks damage, the driver knows pixels and rectangles, and
 * this is where the two meet.
 */
#ifndef VQ_DISPLAY_H
#define VQ_DISPLAY_H

#include "efi/vqefi.h"
#include "gfx/gfx.h"
#include "virtio/virtio_gpu.h"

/** A surface over @g's framebuffer (after vgpu_start), with no damage. */
EFI_STATUS display_surface(struct vgpu *g, struct gfx_surface *ret);

/** Hand @s's damaged rectangles to @g in one flush, then forget them. */
EFI_STATUS display_flush(struct vgpu *g, struct gfx_surface *s);

#endif
