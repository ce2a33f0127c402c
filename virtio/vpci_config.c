/* SPDX-License-Identifier: MIT */
/*
 * The device-specific config region, as both virtio-pci transports reach it
 * (virtio 1.2 §4.1.4.6, §4.1.4.8): bounds, and naturally aligned accesses.
 */
#include "virtio/vpci_priv.h"
#include "lib/log.h"

int vpci_cfg_range_ok(struct vdev *d, uint32_t off, uint32_t len)
{
	if (!d->device.present)
		return log_err(-VQ_ENOTSUP, "%s: device has no config space",
			       d->name);
	if (off > d->device.length || len > d->device.length - off)
		return log_err(-VQ_ERANGE,
			       "%s: config read %u+%u beyond its %u bytes",
			       d->name, off, len, d->device.length);
	return 0;
}

/* Naturally aligned accesses of at most 4 bytes (§4.1.3.1). */
int vpci_cfg_read_span(struct vdev *d, uint32_t off, uint8_t *buf,
		       uint32_t len)
{
	uint32_t pos = 0;

	while (pos < len) {
		uint64_t at = (uint64_t)d->device.offset + off + pos;
		unsigned w = 4;
		uint64_t v;
		int ret;

		while (w > 1 && (at % w || w > len - pos))
			w /= 2;
		ret = bar_rd(d, d->device.bar, at, w, &v);
		if (ret)
			return ret;
		for (unsigned i = 0; i < w; i++)
			buf[pos + i] = (uint8_t)(v >> (8 * i));
		pos += w;
	}
	return 0;
}

int vpci_cfg_write(struct vdev *d, uint32_t off, const void *buf,
		   uint32_t len)
{
	const uint8_t *p = buf;
	uint64_t v = 0;
	int ret = vpci_cfg_range_ok(d, off, len);

	if (ret)
		return ret;
	if ((len != 1 && len != 2 && len != 4) || off % len)
		return log_err(-VQ_EINVAL, "%s: config write of %u bytes at %u",
			       d->name, len, off);
	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return bar_wr(d, d->device.bar, (uint64_t)d->device.offset + off, len,
		      v);
}
