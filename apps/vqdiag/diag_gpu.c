/* SPDX-License-Identifier: MIT */
/*
 * vqdiag gpu: the first virtio-gpu, measured twice on the same device.
 *
 * First the firmware's own path, while OVMF still drives the device: its
 * EFI_GRAPHICS_OUTPUT_PROTOCOL (no linear framebuffer on virtio-gpu; every
 * Blt is a synchronous transfer + flush). Then the device is taken and
 * vqboot's driver (virtio/virtio_gpu.h) brings it up: per scanout the mode,
 * where it came from and the EDID summary; a test pattern (colour bars, a
 * 1-pixel white border, the resolution in a box); full-frame and
 * small-rectangle update timings next to the firmware's.
 *
 * Both sides do the same work per update: a Blt copies the caller's frame
 * into the firmware's backing store, then transfers and flushes; vqboot's
 * timed loop copies the same caller frame into its surface, then
 * TRANSFER_TO_HOST_2D + RESOURCE_FLUSH. A separate "flush only" row times
 * the transfer and flush alone (what vqboot's screen code does after drawing
 * in place). The comparison needs both sides in the same mode: when they
 * differ the ratios are withheld and the report says so. The pattern stays
 * on screen for --hold N seconds before the device goes back, so that a
 * screenshot shows what vqboot drew rather than what the firmware redraws.
 *
 * Times come from plat_now_us (efi_clock_name() says which counter). A time is a figure, never a failure.
 */
#include "apps/vqdiag/diag.h"
#include "lib/log.h"
#include "efi/display.h"
#include "efi/vdevs.h"
#include "lib/plat.h"
#include "lib/fmt.h"

#define GPU_FULL_RUNS 50
#define GPU_RECT_RUNS 200
#define GPU_RECT_HEIGHT 16
#define GPU_MAX_HOLD_S 3600

static const uint32_t bar_colors[8] = {
	0xffffff, 0xffff00, 0x00ffff, 0x00ff00,
	0xff00ff, 0xff0000, 0x0000ff, 0x000000,
};

/* One timed series of identical updates. */
struct gpu_bench {
	bool ran;
	uint32_t y;         /* top row of the rectangle (x is 0) */
	uint32_t width, height;
	uint32_t runs;      /* updates that completed */
	uint64_t total_us;
	int err;            /* vqboot: first error; 0 ok */
	EFI_STATUS status;  /* firmware: first error; EFI_SUCCESS ok */
};

struct gpu_fw {
	bool has_gop;
	const char *note;   /* why the firmware path was skipped */
	uint32_t width, height;
	struct gpu_bench full, rect;
};

struct gpu_report {
	struct efi_pci_dev *dev;
	struct vgpu *g;
	struct gfx_surface surface; /* over the driver's framebuffer, once started */
	bool started;
	const char *error;         /* what failed (often error_buf), or NULL */
	char error_buf[96];
	struct gpu_fw fw;
	struct gpu_bench full, rect, flush_only;
	uint32_t *frame;           /* the caller's frame both sides copy */
	uint32_t frame_w, frame_h;
	bool same_mode;            /* the firmware's GOP mode is vqboot's */
	unsigned hold_s;
	bool all_scanouts;
	/* --all-scanouts: the source of the mode we forced on a disabled one */
	enum vgpu_mode_source forced[VIRTIO_GPU_MAX_SCANOUTS];
};

/* ---- options ---------------------------------------------------------- */

static bool parse_uint(const char *s, unsigned *ret)
{
	unsigned v = 0;

	if (!s || !*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT32_MAX - 9) / 10)
			return false;
		v = v * 10 + (unsigned)(*s - '0');
	}
	*ret = v;
	return true;
}

/* --hold N or --hold=N; --all-scanouts also drives disabled scanouts. */
static EFI_STATUS parse_params(const struct diag_params *p, struct gpu_report *r)
{
	for (unsigned i = 0; i < p->argc; i++) {
		const char *a = p->argv[i];
		const char *val = NULL;

		if (!strcmp(a, "--all-scanouts")) {
			r->all_scanouts = true;
			continue;
		}
		if (!strcmp(a, "--hold") && i + 1 < p->argc)
			val = p->argv[++i];
		else if (!strncmp(a, "--hold=", 7))
			val = a + 7;
		else {
			log_error("vqdiag gpu: unknown argument '%s'", a);
			return EFI_INVALID_PARAMETER;
		}
		if (!parse_uint(val, &r->hold_s) || r->hold_s > GPU_MAX_HOLD_S) {
			log_error("vqdiag gpu: --hold '%s': want 0..%u seconds", val,
				  GPU_MAX_HOLD_S);
			return EFI_INVALID_PARAMETER;
		}
	}
	return EFI_SUCCESS;
}

/* ---- the test pattern ------------------------------------------------- */

/* Left edge of bar @i: the inside (1 .. w-2) cut into eight. */
static uint32_t bar_x(uint32_t w, unsigned i)
{
	return 1 + (uint32_t)((uint64_t)(w - 2) * i / 8);
}

static void draw_label(struct gfx_surface *s)
{
	char text[24];
	unsigned scale = s->width >= 640 ? 4 : 2;
	uint32_t pad = 4 * scale;

	vq_snprintf(text, sizeof(text), "%ux%u", s->width, s->height);
	uint32_t tw = gfx_text_width(text, scale);
	uint32_t th = gfx_font_height() * scale;
	uint32_t bw = tw + 2 * pad, bh = th + 2 * pad;
	int32_t x = (int32_t)(s->width / 2) - (int32_t)(bw / 2);
	int32_t y = (int32_t)(s->height / 2) - (int32_t)(bh / 2);

	gfx_fill(s, x - 2, y - 2, bw + 4, bh + 4, 0xffffff);
	gfx_fill(s, x, y, bw, bh, 0x000000);
	gfx_draw_text(s, x + (int32_t)pad, y + (int32_t)pad, text, 0xffffff,
		      0x000000, scale);
}

/* Eight full-intensity bars inside a 1-pixel white border, the size in the middle. */
static void draw_pattern(struct gfx_surface *s)
{
	gfx_clear(s, 0xffffff);
	if (s->width < 3 || s->height < 3)
		return;
	for (unsigned i = 0; i < 8; i++) {
		uint32_t x0 = bar_x(s->width, i), x1 = bar_x(s->width, i + 1);

		gfx_fill(s, (int32_t)x0, 1, x1 - x0, s->height - 2, bar_colors[i]);
	}
	draw_label(s);
}

/* ---- the firmware's GOP ----------------------------------------------- */

/* Whether @child's device path starts with @parent's (without its end node). */
static bool path_under(EFI_DEVICE_PATH *parent, EFI_DEVICE_PATH *child)
{
	UINTN plen, clen;

	if (!parent || !child)
		return false;
	plen = DevicePathSize(parent);
	clen = DevicePathSize(child);
	if (plen < sizeof(EFI_DEVICE_PATH) || clen < plen)
		return false;
	plen -= sizeof(EFI_DEVICE_PATH); /* the end node */
	return !memcmp(parent, child, plen);
}

/*
 * The GOP on the child handle of the GPU's PCI function: not the console
 * splitter's, which would add its own fan-out to every Blt.
 */
static EFI_GRAPHICS_OUTPUT_PROTOCOL *find_gop(EFI_HANDLE pci_handle)
{
	EFI_GUID gop_guid = EFI_GRAPHICS_OUTPUT_PROTOCOL_GUID;
	EFI_DEVICE_PATH *pci_path = DevicePathFromHandle(pci_handle);
	EFI_GRAPHICS_OUTPUT_PROTOCOL *gop = NULL;
	EFI_HANDLE *handles = NULL;
	UINTN n = 0;

	if (BS->LocateHandleBuffer(ByProtocol, &gop_guid, NULL, &n, &handles) !=
	    EFI_SUCCESS)
		return NULL;
	for (UINTN i = 0; i < n && !gop; i++) {
		if (!path_under(pci_path, DevicePathFromHandle(handles[i])))
			continue;
		if (BS->HandleProtocol(handles[i], &gop_guid, (void **)&gop) !=
		    EFI_SUCCESS)
			gop = NULL;
	}
	BS->FreePool(handles);
	return gop;
}

static void gop_bench(EFI_GRAPHICS_OUTPUT_PROTOCOL *gop, uint32_t *px,
		      uint32_t stride, uint32_t y, uint32_t w, uint32_t h,
		      uint32_t runs, struct gpu_bench *b)
{
	EFI_GRAPHICS_OUTPUT_BLT_PIXEL *buf = (EFI_GRAPHICS_OUTPUT_BLT_PIXEL *)px;
	UINTN delta = (UINTN)stride * sizeof(*buf);
	EFI_STATUS st;
	uint64_t t0;

	*b = (struct gpu_bench){ .ran = true, .y = y, .width = w, .height = h };
	/* One untimed Blt first: the firmware may map or allocate lazily. */
	st = gop->Blt(gop, buf, EfiBltBufferToVideo, 0, y, 0, y, w, h, delta);
	t0 = plat_now_us();
	for (uint32_t i = 0; i < runs && !EFI_ERROR(st); i++) {
		st = gop->Blt(gop, buf, EfiBltBufferToVideo, 0, y, 0, y, w, h, delta);
		if (!EFI_ERROR(st))
			b->runs++;
	}
	b->total_us = plat_now_us() - t0;
	b->status = st;
	if (EFI_ERROR(st))
		log_warn("vqdiag gpu: firmware Blt %ux%u failed (status 0x%llx)",
			 w, h, (unsigned long long)st);
}

/* The pattern through the firmware's Blt: a full frame, then a strip. */
static void firmware_bench(struct gpu_report *r)
{
	EFI_GRAPHICS_OUTPUT_PROTOCOL *gop = find_gop(r->dev->handle);
	struct gfx_surface s;
	uint32_t *px;

	if (!gop || !gop->Mode || !gop->Mode->Info) {
		r->fw.note = "no firmware GOP on this device; firmware timing skipped";
		return;
	}
	r->fw.has_gop = true;
	r->fw.width = gop->Mode->Info->HorizontalResolution;
	r->fw.height = gop->Mode->Info->VerticalResolution;
	if (!vgpu_mode_ok(r->fw.width, r->fw.height) ||
	    r->fw.height < GPU_RECT_HEIGHT) {
		r->fw.note = "firmware GOP mode out of bounds; firmware timing skipped";
		return;
	}
	px = plat_alloc((size_t)r->fw.width * r->fw.height * 4);
	if (!px || gfx_init(&s, px, r->fw.width, r->fw.height, r->fw.width)) {
		plat_free(px);
		r->fw.note = "no memory for a frame; firmware timing skipped";
		return;
	}
	draw_pattern(&s);
	gop_bench(gop, px, r->fw.width, 0, r->fw.width, r->fw.height,
		  GPU_FULL_RUNS, &r->fw.full);
	gop_bench(gop, px, r->fw.width, r->fw.height / 4, r->fw.width,
		  GPU_RECT_HEIGHT, GPU_RECT_RUNS, &r->fw.rect);
	/* vqboot's side copies this same frame. */
	r->frame = px;
	r->frame_w = r->fw.width;
	r->frame_h = r->fw.height;
}

/* ---- vqboot's driver -------------------------------------------------- */

/* Rows y..y+h of the caller's frame into the surface, as a Blt does, with
 * the copy routine the firmware's Blt uses itself (boot services' CopyMem;
 * gnu-efi's memcpy copies a byte at a time). Rows that lie end to end on
 * both sides (full-width rows, no padding) are one copy: the same bytes,
 * without a call per row, which under TCG costs more than the row. */
static void copy_frame(struct gpu_report *r, uint32_t y, uint32_t w, uint32_t h)
{
	struct gfx_surface *s = &r->surface;

	if (s->stride == w && r->frame_w == w) {
		BS->CopyMem(s->px + (size_t)y * w, r->frame + (size_t)y * w,
			    (UINTN)w * h * 4);
		return;
	}
	for (uint32_t row = y; row < y + h; row++)
		BS->CopyMem(s->px + (size_t)row * s->stride, r->frame + (size_t)row * r->frame_w,
			    (UINTN)w * 4);
}

/* @copy: each update first copies the caller's frame (a Blt's work). */
static void vgpu_bench(struct gpu_report *r, bool full, bool copy, uint32_t y,
		       uint32_t w, uint32_t h, uint32_t runs, struct gpu_bench *b)
{
	struct gfx_surface *s = &r->surface;
	uint64_t t0 = plat_now_us();

	*b = (struct gpu_bench){ .ran = true, .y = y, .width = w, .height = h };
	for (uint32_t i = 0; i < runs && !b->err; i++) {
		if (copy)
			copy_frame(r, y, w, h);
		if (full)
			gfx_damage_all(s);
		else
			gfx_damage_add(s, 0, (int32_t)y, w, h);
		b->err = vq_from_efi(display_flush(r->g, s));
		if (!b->err)
			b->runs++;
	}
	b->total_us = plat_now_us() - t0;
}

/* The strip is as wide as the firmware's (when there was one), clipped. */
static void driver_bench(struct gpu_report *r)
{
	struct gfx_surface *s = &r->surface;
	uint32_t w = r->fw.has_gop ? VQ_MIN(r->fw.width, s->width) : s->width;
	uint32_t h = VQ_MIN((uint32_t)GPU_RECT_HEIGHT, s->height);
	uint32_t y = s->height / 4;

	if (y + h > s->height)
		y = 0;
	/* Without the firmware's frame (no GOP): our own, drawn once. */
	if (!r->frame) {
		struct gfx_surface fs;

		r->frame = plat_alloc((size_t)s->width * s->height * 4);
		if (!r->frame || gfx_init(&fs, r->frame, s->width, s->height, s->width)) {
			plat_free(r->frame);
			r->frame = NULL;
			r->error = "no memory for a caller frame";
			return;
		}
		draw_pattern(&fs);
		r->frame_w = s->width;
		r->frame_h = s->height;
	}
	r->same_mode = r->fw.has_gop && r->fw.width == s->width && r->fw.height == s->height;
	/* A frame smaller than the surface is copied where it fits. */
	uint32_t fw_w = VQ_MIN(s->width, r->frame_w), fh = VQ_MIN(s->height, r->frame_h);
	vgpu_bench(r, fw_w == s->width && fh == s->height, true, 0, fw_w, fh,
		   GPU_FULL_RUNS, &r->full);
	if (y + h <= fh)
		vgpu_bench(r, false, true, y, VQ_MIN(w, fw_w), h, GPU_RECT_RUNS, &r->rect);
	vgpu_bench(r, true, false, 0, s->width, s->height, GPU_FULL_RUNS, &r->flush_only);
}

/* Drive the disabled scanouts too, at what vgpu_choose_mode gives them. */
static void enable_all_scanouts(void *ctx, struct vgpu *g)
{
	struct gpu_report *r = ctx;

	for (uint32_t i = 0; i < vgpu_num_scanouts(g) && i < VIRTIO_GPU_MAX_SCANOUTS; i++) {
		struct vgpu_scanout_info si;
		uint32_t w, h;
		enum vgpu_mode_source src;

		if (vgpu_scanout_info(g, i, &si) || si.used)
			continue;
		vgpu_choose_mode(false, &si.info_rect, si.has_edid ? &si.edid : NULL,
				 &w, &h, &src);
		if (!vgpu_set_mode(g, i, w, h))
			r->forced[i] = src;
	}
}

static EFI_STATUS driver_fail(struct gpu_report *r, const char *what, int rc)
{
	vq_snprintf(r->error_buf, sizeof(r->error_buf), "%s: %s", what,
		    vq_strerror(rc));
	r->error = r->error_buf;
	return efi_from_vq(rc);
}

static EFI_STATUS driver_start(struct gpu_report *r)
{
	EFI_STATUS st = vdevs_take_gpu(r->dev, r->all_scanouts ? enable_all_scanouts : NULL,
				       r, false, &r->g);

	if (EFI_ERROR(st)) {
		r->g = NULL;
		r->error = "cannot take the device from the firmware and open it";
		return st;
	}
	int rc = vgpu_start(r->g);
	if (rc)
		return driver_fail(r, "vgpu_start", rc);
	st = display_surface(r->g, &r->surface);
	if (EFI_ERROR(st))
		return driver_fail(r, "framebuffer", vq_from_efi(st));
	r->started = true;
	draw_pattern(&r->surface);
	st = display_flush(r->g, &r->surface);
	if (EFI_ERROR(st))
		return driver_fail(r, "first flush", vq_from_efi(st));
	return EFI_SUCCESS;
}

/* ---- output ------------------------------------------------------------- */

/* What the driver says of scanout @i, with the source of a forced mode. */
static bool scanout_info(const struct gpu_report *r, uint32_t i,
			 struct vgpu_scanout_info *ret, bool *ret_forced)
{
	struct vgpu_scanout_info si;

	if (vgpu_scanout_info(r->g, i, &si))
		return false;
	*ret_forced = i < VIRTIO_GPU_MAX_SCANOUTS && r->forced[i] != VGPU_MODE_NONE;
	if (*ret_forced)
		si.source = r->forced[i];
	*ret = si;
	return true;
}

static uint64_t per_update_ns(const struct gpu_bench *b)
{
	return b->runs ? b->total_us * 1000 / b->runs : 0;
}

static uint64_t per_second(const struct gpu_bench *b)
{
	return b->total_us ? (uint64_t)b->runs * 1000000 / b->total_us : 0;
}

/* vqboot time per update / firmware time per update, in thousandths. */
static bool ratio_milli(const struct gpu_report *r, const struct gpu_bench *vq,
			const struct gpu_bench *fw, uint64_t *ret)
{
	uint64_t a = per_update_ns(vq), b = per_update_ns(fw);

	if (!r->same_mode || !vq->runs || !fw->runs || !b)
		return false;
	*ret = a * 1000 / b;
	return true;
}

static const char *source_name(enum vgpu_mode_source s)
{
	switch (s) {
	case VGPU_MODE_EDID: return "EDID";
	case VGPU_MODE_DISPLAY_INFO: return "display info";
	case VGPU_MODE_FALLBACK: return "fallback";
	default: return "none";
	}
}

static void text_bench(const char *what, const struct gpu_bench *b)
{
	uint64_t ns = per_update_ns(b);

	if (!b->ran)
		return;
	con_printf("  %-11s %ux%u: %llu.%03llu us per update, %llu updates/s "
		   "(%u in %llu us)%s\n", what, b->width, b->height,
		   (unsigned long long)(ns / 1000), (unsigned long long)(ns % 1000),
		   (unsigned long long)per_second(b), b->runs,
		   (unsigned long long)b->total_us,
		   b->err || EFI_ERROR(b->status) ? ", stopped by an error" : "");
}

static void text_scanout(uint32_t i, const struct vgpu_scanout_info *si,
			 bool forced)
{
	con_printf("  scanout %u: %s, display info %ux%u", i,
		   si->enabled ? "enabled" : "disabled", si->info_rect.width,
		   si->info_rect.height);
	if (si->used)
		con_printf(", driven at %ux%u (from %s%s)\n", si->width, si->height,
			   source_name(si->source), forced ? ", forced" : "");
	else
		con_puts(", not driven\n");
	if (!si->has_edid) {
		con_puts("    EDID: none\n");
		return;
	}
	con_printf("    EDID: %s product 0x%04x \"%s\"", si->edid.manufacturer,
		   si->edid.product, si->edid.name);
	if (si->edid.has_preferred)
		con_printf(", preferred %ux%u @ %u.%03u Hz", si->edid.pref_width,
			   si->edid.pref_height, si->edid.pref_refresh_mhz / 1000,
			   si->edid.pref_refresh_mhz % 1000);
	con_puts("\n");
}

static void text_ratio(const struct gpu_report *r, const char *what,
		       const struct gpu_bench *vq, const struct gpu_bench *fw)
{
	uint64_t m;

	if (ratio_milli(r, vq, fw, &m))
		con_printf("  %-11s vqboot/firmware time per update: %llu.%03llu\n",
			   what, (unsigned long long)(m / 1000),
			   (unsigned long long)(m % 1000));
	else
		con_printf("  %-11s vqboot/firmware: n/a\n", what);
}

static void text_report(const struct gpu_report *r)
{
	con_printf("vqdiag gpu: %s; times from the clock (%llu ticks/us, %s)\n",
		   r->dev->vdev.bus.name, (unsigned long long)efi_tsc_per_us(),
		   efi_clock_name());
	if (r->fw.has_gop)
		con_printf("firmware GOP: mode %ux%u, EfiBltBufferToVideo\n",
			   r->fw.width, r->fw.height);
	if (r->fw.note)
		con_printf("firmware GOP: %s\n", r->fw.note);
	text_bench("full frame", &r->fw.full);
	text_bench("small rect", &r->fw.rect);
	if (r->error)
		con_printf("vqboot driver: error: %s\n", r->error);
	if (!r->g)
		return;
	con_printf("vqboot driver: %u scanout%s\n", vgpu_num_scanouts(r->g),
		   vgpu_num_scanouts(r->g) == 1 ? "" : "s");
	for (uint32_t i = 0; i < vgpu_num_scanouts(r->g); i++) {
		struct vgpu_scanout_info si;
		bool forced;

		if (scanout_info(r, i, &si, &forced))
			text_scanout(i, &si, forced);
	}
	con_puts("vqboot driver: each update copies the caller's frame, then transfer + flush\n");
	text_bench("full frame", &r->full);
	text_bench("small rect", &r->rect);
	text_bench("flush only", &r->flush_only);
	if (r->same_mode)
		con_printf("same mode on both sides: %ux%u\n", r->fw.width, r->fw.height);
	else
		con_printf("FAIL: modes differ (firmware %ux%u, vqboot %ux%u): no ratio\n",
			   r->fw.width, r->fw.height, r->surface.width, r->surface.height);
	con_puts("ratio:\n");
	text_ratio(r, "full frame", &r->full, &r->fw.full);
	text_ratio(r, "small rect", &r->rect, &r->fw.rect);
}

static void json_bench(struct json *j, const char *key, const struct gpu_bench *b)
{
	if (!b->ran) {
		json_null(j, key);
		return;
	}
	json_begin_object(j, key);
	json_uint(j, "y", b->y);
	json_uint(j, "width", b->width);
	json_uint(j, "height", b->height);
	json_uint(j, "updates", b->runs);
	json_uint(j, "total_us", b->total_us);
	json_milli(j, "per_update_us", per_update_ns(b));
	json_uint(j, "updates_per_s", per_second(b));
	json_bool(j, "error", b->err || EFI_ERROR(b->status));
	json_end_object(j);
}

static void json_edid(struct json *j, const struct vgpu_scanout_info *si)
{
	if (!si->has_edid) {
		json_null(j, "edid");
		return;
	}
	json_begin_object(j, "edid");
	json_string(j, "manufacturer", si->edid.manufacturer);
	json_uint(j, "product", si->edid.product);
	json_string(j, "name", si->edid.name);
	if (si->edid.has_preferred) {
		json_begin_object(j, "preferred");
		json_uint(j, "width", si->edid.pref_width);
		json_uint(j, "height", si->edid.pref_height);
		json_milli(j, "refresh_hz", si->edid.pref_refresh_mhz);
		json_end_object(j);
	} else {
		json_null(j, "preferred");
	}
	json_end_object(j);
}

static void json_scanout(struct json *j, uint32_t i,
			 const struct vgpu_scanout_info *si, bool forced)
{
	json_begin_object(j, NULL);
	json_uint(j, "index", i);
	json_bool(j, "enabled", si->enabled);
	json_bool(j, "driven", si->used);
	json_bool(j, "forced", forced);
	json_uint(j, "width", si->used ? si->width : 0);
	json_uint(j, "height", si->used ? si->height : 0);
	json_string(j, "source", si->used ? source_name(si->source) : "none");
	json_begin_object(j, "display_info");
	json_uint(j, "width", si->info_rect.width);
	json_uint(j, "height", si->info_rect.height);
	json_end_object(j);
	json_edid(j, si);
	json_end_object(j);
}

static void json_ratio(struct json *j, const struct gpu_report *r, const char *key,
		       const struct gpu_bench *vq, const struct gpu_bench *fw)
{
	uint64_t m;

	if (ratio_milli(r, vq, fw, &m))
		json_milli(j, key, m);
	else
		json_null(j, key);
}

static void json_timings(struct json *j, const struct gpu_report *r)
{
	json_begin_object(j, "timings");
	json_string(j, "clock", efi_clock_name());
	json_uint(j, "tsc_per_us", efi_tsc_per_us());
	json_begin_object(j, "firmware");
	json_bool(j, "available", r->fw.has_gop);
	if (r->fw.note)
		json_string(j, "note", r->fw.note);
	json_string(j, "work", "EfiBltBufferToVideo of the caller's frame");
	json_uint(j, "mode_width", r->fw.width);
	json_uint(j, "mode_height", r->fw.height);
	json_bench(j, "full_frame", &r->fw.full);
	json_bench(j, "small_rect", &r->fw.rect);
	json_end_object(j);
	json_begin_object(j, "vqboot");
	json_string(j, "work", "copy the caller's frame into the surface, TRANSFER_TO_HOST_2D, RESOURCE_FLUSH");
	json_uint(j, "mode_width", r->started ? r->surface.width : 0);
	json_uint(j, "mode_height", r->started ? r->surface.height : 0);
	json_bench(j, "full_frame", &r->full);
	json_bench(j, "small_rect", &r->rect);
	json_bench(j, "flush_only", &r->flush_only);
	json_end_object(j);
	json_bool(j, "same_mode", r->same_mode);
	/* vqboot's time per update divided by the firmware's (null when the
	 * modes differ: the work would not be the same). */
	json_begin_object(j, "ratio_vqboot_to_firmware");
	json_ratio(j, r, "full_frame", &r->full, &r->fw.full);
	json_ratio(j, r, "small_rect", &r->rect, &r->fw.rect);
	json_end_object(j);
	json_end_object(j);
}

static void json_report(struct json *j, const struct gpu_report *r)
{
	json_string(j, "pci", r->dev->vdev.bus.name);
	if (r->error)
		json_string(j, "error", r->error);
	json_begin_array(j, "scanouts");
	for (uint32_t i = 0; r->g && i < vgpu_num_scanouts(r->g); i++) {
		struct vgpu_scanout_info si;
		bool forced;

		if (scanout_info(r, i, &si, &forced))
			json_scanout(j, i, &si, forced);
	}
	json_end_array(j);
	if (r->g) {
		json_begin_object(j, "surface");
		json_uint(j, "width", r->started ? r->surface.width : 0);
		json_uint(j, "height", r->started ? r->surface.height : 0);
		json_end_object(j);
	}
	json_timings(j, r);
}

/* ---- the command ---------------------------------------------------------- */

static struct efi_pci_dev *first_gpu(struct efi_pci_dev *devs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (devs[i].vdev.type == VIRTIO_ID_GPU)
			return &devs[i];
	return NULL;
}

/* Redraw the pattern, say so, and keep it for --hold seconds. */
static void hold_pattern(struct diag_out *o, struct gpu_report *r)
{
	draw_pattern(&r->surface);
	if (EFI_ERROR(display_flush(r->g, &r->surface))) {
		log_warn("vqdiag gpu: cannot redraw the pattern; not holding");
		return;
	}
	/* In JSON mode the announcement is a field of the document, so that a
	 * script waiting for it still reads valid JSON. */
	if (o->json) {
		json_uint(&o->j, "hold_s", r->hold_s);
		json_string(&o->j, "state", "vqdiag: pattern on screen");
	} else {
		con_printf("vqdiag: pattern on screen (holding %u s)\n", r->hold_s);
	}
	for (unsigned s = 0; s < r->hold_s; s++)
		BS->Stall(1000000);
}

static void release(struct gpu_report *r)
{
	if (r->g)
		vdevs_release_gpu(r->dev, r->g);
	r->g = NULL;
	r->started = false;
}

static EFI_STATUS run_gpu(struct diag_out *o, struct gpu_report *r)
{
	EFI_STATUS st;

	firmware_bench(r);
	st = driver_start(r);
	if (!EFI_ERROR(st))
		driver_bench(r);
	if (o->json)
		json_report(&o->j, r);
	else
		text_report(r);
	if (!EFI_ERROR(st))
		hold_pattern(o, r);
	release(r);
	return st;
}

EFI_STATUS diag_gpu(struct diag_out *o, const struct diag_params *p)
{
	struct gpu_report r = { 0 };
	struct efi_pci_dev *devs;
	unsigned n;
	int saved_level = log_max_level;
	EFI_STATUS st = parse_params(p, &r);

	if (EFI_ERROR(st))
		return st;
	st = efi_pci_find_virtio(&devs, &n);
	if (EFI_ERROR(st))
		return st;
	r.dev = first_gpu(devs, n);
	if (!r.dev) {
		log_error("vqdiag gpu: no virtio-gpu device");
		if (o->json)
			json_string(&o->j, "error", "no virtio-gpu device");
		efi_pci_free_list(devs, n);
		return EFI_NOT_FOUND;
	}
	/* The driver's info lines would land inside the JSON document. */
	if (o->json && log_max_level == LOG_INFO)
		log_max_level = LOG_WARN;
	st = run_gpu(o, &r);
	log_max_level = saved_level;
	plat_free(r.frame);
	efi_pci_free_list(devs, n);
	return st;
}
