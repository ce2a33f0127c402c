/* SPDX-License-Identifier: MIT */
#include "tests/support/gpu_surface.h"

static struct gfx_surface surface;
static const struct vgpu *surface_of;

struct gfx_surface *test_gpu_surface(struct vgpu *g)
{
	struct vgpu_fb fb;

	if (vgpu_framebuffer(g, &fb)) {
		surface_of = NULL;
		return NULL;
	}
	if (surface_of != g || surface.px != fb.px) {
		if (gfx_init(&surface, fb.px, fb.width, fb.height, fb.stride))
			return NULL;
		surface_of = g;
	}
	return &surface;
}

int test_gpu_flush_damage(struct vgpu *g)
{
	struct gfx_surface *s = test_gpu_surface(g);
	struct vgpu_rect r[GFX_MAX_DAMAGE];
	int rc;

	if (!s)
		return vgpu_flush(g, NULL, 0);
	for (unsigned i = 0; i < s->ndamage; i++)
		r[i] = (struct vgpu_rect){ s->damage[i].x, s->damage[i].y,
					   s->damage[i].w, s->damage[i].h };
	rc = vgpu_flush(g, r, s->ndamage);
	if (!rc)
		gfx_damage_clear(s);
	return rc;
}
