/* SPDX-License-Identifier: MIT */
/* The modern virtio-pci transport: vendor capabilities (virtio 1.2 §4.1.4). */
#include "virtio/vpci_priv.h"
#include "lib/log.h"

/* The 64-bit queue address fields go as two 32-bit writes (§4.1.3.1: a
 * driver may not assume 64-bit accesses work). */
#define common_set64(d, field, val)                                            \
	common_set_halves((d), offsetof(struct virtio_pci_common_cfg, field), \
			  (val))

static int common_set_halves(struct vdev *d, uint32_t off, uint64_t val)
{
	int ret = bar_wr(d, d->common.bar, d->common.offset + off, 4,
			 (uint32_t)val);
	if (ret)
		return ret;
	return bar_wr(d, d->common.bar, d->common.offset + off + 4, 4,
		      val >> 32);
}


static int modern_get_status(struct vdev *d, uint8_t *ret)
{
	uint64_t v;
	int r = common_get(d, device_status, &v);

	if (r)
		return r;
	*ret = (uint8_t)v;
	return 0;
}

static int modern_set_status(struct vdev *d, uint8_t status)
{
	return common_set(d, device_status, status);
}

static int modern_get_features(struct vdev *d, uint64_t *ret)
{
	uint64_t f = 0;

	for (unsigned sel = 0; sel < 2; sel++) {
		uint64_t half;
		int r = common_set(d, device_feature_select, sel);

		if (!r)
			r = common_get(d, device_feature, &half);
		if (r)
			return r;
		f |= (half & 0xFFFFFFFFu) << (32 * sel);
	}
	*ret = f;
	return 0;
}

static int modern_set_features(struct vdev *d, uint64_t features)
{
	for (unsigned sel = 0; sel < 2; sel++) {
		int r = common_set(d, driver_feature_select, sel);

		if (!r)
			r = common_set(d, driver_feature,
				       (uint32_t)(features >> (32 * sel)));
		if (r)
			return r;
	}
	return 0;
}

/* virtio 1.2 §4.1.4.3.1: re-read while config_generation changes, so a
 * multi-field read is never torn by a concurrent device update. */
static int modern_config_read(struct vdev *d, uint32_t off, void *buf,
			      uint32_t len)
{
	int ret = vpci_cfg_range_ok(d, off, len);

	if (ret)
		return ret;
	for (unsigned tries = 0; tries < VPCI_CONFIG_TRIES; tries++) {
		uint64_t before, after;

		ret = common_get(d, config_generation, &before);
		if (!ret)
			ret = vpci_cfg_read_span(d, off, buf, len);
		if (!ret)
			ret = common_get(d, config_generation, &after);
		if (ret)
			return ret;
		if (before == after)
			return 0;
	}
	return log_err(-VQ_EAGAIN,
		       "%s: config generation still changing after %u reads",
		       d->name, VPCI_CONFIG_TRIES);
}

static int modern_num_queues(struct vdev *d, uint16_t *ret)
{
	uint64_t v;
	int r = common_get(d, num_queues, &v);

	if (r)
		return r;
	*ret = (uint16_t)v;
	return 0;
}

static int modern_queue_max(struct vdev *d, uint16_t idx, uint16_t *ret)
{
	uint16_t n;
	uint64_t v;
	int r = modern_num_queues(d, &n);

	if (r)
		return r;
	if (idx >= n) {
		*ret = 0;
		return 0;
	}
	r = common_set(d, queue_select, idx);
	if (!r)
		r = common_get(d, queue_size, &v);
	if (r)
		return r;
	*ret = (uint16_t)v;
	return 0;
}

/* §4.1.4.4: the device promises cap.length >= notify_off * mult + 2; a
 * device that breaks it would have us write outside the region. */
static int modern_check_notify(struct vdev *d, uint16_t idx, uint16_t noff)
{
	uint64_t at = (uint64_t)noff * d->notify_mult;

	if (at + 2 > d->notify.length)
		return log_err(-VQ_EBROKEN,
			       "%s: queue %u notify offset %u x %u outside the %u-byte notify region",
			       d->name, idx, noff, d->notify_mult,
			       d->notify.length);
	return 0;
}

static int modern_queue_enable(struct vdev *d, uint16_t idx,
			       struct virtqueue *vq)
{
	uint64_t noff;
	int r;

	if (idx >= VDEV_MAX_QUEUES)
		return log_err(-VQ_EINVAL, "%s: queue %u", d->name, idx);
	r = common_set(d, queue_select, idx);
	if (!r)
		r = common_set(d, queue_size, vq_size(vq));
	if (!r)
		r = common_set64(d, queue_desc, vq_desc_addr(vq));
	if (!r)
		r = common_set64(d, queue_driver, vq_avail_addr(vq));
	if (!r)
		r = common_set64(d, queue_device, vq_used_addr(vq));
	if (!r)
		r = common_get(d, queue_notify_off, &noff);
	if (!r)
		r = modern_check_notify(d, idx, (uint16_t)noff);
	if (r)
		return r;
	/* Read once and cached: notify is on the hot path (§4.1.4.4). */
	d->queues[idx].notify_off = (uint16_t)noff;
	return common_set(d, queue_enable, 1);
}

static void modern_notify(struct vdev *d, uint16_t idx)
{
	uint64_t at;

	if (idx >= VDEV_MAX_QUEUES)
		return;
	at = d->notify.offset +
	     (uint64_t)d->queues[idx].notify_off * d->notify_mult;
	if (bar_wr(d, d->notify.bar, at, 2, idx))
		log_warn("%s: notify of queue %u failed", d->name, idx);
}

static int modern_isr(struct vdev *d, uint8_t *ret)
{
	uint64_t v;
	int r = bar_rd(d, d->isr_cfg.bar, d->isr_cfg.offset, 1, &v);

	if (r)
		return r;
	*ret = (uint8_t)v;
	return 0;
}

const struct vtransport_ops vpci_modern_ops = {
	.name = "modern",
	.get_status = modern_get_status,
	.set_status = modern_set_status,
	.get_features = modern_get_features,
	.set_features = modern_set_features,
	.config_read = modern_config_read,
	.config_write = vpci_cfg_write,
	.num_queues = modern_num_queues,
	.queue_max = modern_queue_max,
	.queue_enable = modern_queue_enable,
	.notify = modern_notify,
	.isr = modern_isr,
};
