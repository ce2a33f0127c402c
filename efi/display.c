/* SPDX-License-Identifier: MIT */
#include "efi/display.h"

EFI_STATUS display_surface(struct vgpu *g, struct gfx_surface *ret)
{
	struct vgpu_fb fb;
	int r = vgpu_framebuffer(g, &fb);

	if (!r)
		r = gfx_init(ret, fb.px, fb.width, fb.height, fb.stride);
	return efi_from_vq(r);
}

EFI_STATUS display_flush(struct vgpu *g, struct gfx_surface *s)
{
	struct vgpu_rect r[GFX_MAX_DAMAGE];
	int rc;

	for (unsigned i = 0; i < s->ndamage; i++)
		r[i] = (struct vgpu_rect){ s->damage[i].x, s->damage[i].y,
					   s->damage[i].w, s->damage[i].h };
	rc = vgpu_flush(g, r, s->ndamage);
	if (rc)
		return efi_from_vq(rc);
	gfx_damage_clear(s);
	return EFI_SUCCESS;
}
