/* SPDX-License-Identifier: MIT */
/*
 * For the GPU tests: one gfx surface over a started vgpu's framebuffer,
 * and its damage handed to the driver, as the apps' screen code does.
 */
#ifndef VQ_TEST_GPU_SURFACE_H
#define VQ_TEST_GPU_SURFACE_H

#include "gfx/gfx.h"
#include "virtio/virtio_gpu.h"

/** The surface over @g's framebuffer (kept across calls), NULL before start. */
struct gfx_surface *test_gpu_surface(struct vgpu *g);

/** vgpu_flush of the surface's damage, which is cleared on success. */
int test_gpu_flush_damage(struct vgpu *g);

#endif
