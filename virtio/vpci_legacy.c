/* SPDX-License-Identifier: MIT */
/*
 * The legacy virtio-pci transport: the register block in I/O BAR0
 * (virtio 1.2 §4.1.4.8).
 */
#include "virtio/vpci_priv.h"
#include "lib/log.h"

static int legacy_get_status(struct vdev *d, uint8_t *ret)
{
	uint64_t v;
	int r = legacy_get(d, device_status, &v);

	if (r)
		return r;
	*ret = (uint8_t)v;
	return 0;
}

static int legacy_set_status(struct vdev *d, uint8_t status)
{
	return legacy_set(d, device_status, status);
}

static int legacy_get_features(struct vdev *d, uint64_t *ret)
{
	uint64_t v;
	int r = legacy_get(d, device_features, &v);

	if (r)
		return r;
	*ret = v & 0xFFFFFFFFu;
	return 0;
}

static int legacy_set_features(struct vdev *d, uint64_t features)
{
	if (features >> 32)
		return log_err(-VQ_EINVAL,
			       "%s: legacy device cannot take features 0x%llx",
			       d->name, (unsigned long long)features);
	return legacy_set(d, driver_features, features);
}

/* Legacy has no generation counter; one pass is all we can do. */
static int legacy_config_read(struct vdev *d, uint32_t off, void *buf,
			      uint32_t len)
{
	int ret = vpci_cfg_range_ok(d, off, len);

	if (ret)
		return ret;
	return vpci_cfg_read_span(d, off, buf, len);
}

static int legacy_queue_max(struct vdev *d, uint16_t idx, uint16_t *ret)
{
	uint64_t v;
	int r = legacy_set(d, queue_select, idx);

	if (!r)
		r = legacy_get(d, queue_size, &v);
	if (r)
		return r;
	*ret = (uint16_t)v;
	return 0;
}

/* Legacy has no queue count: the queues are those with a non-zero size. */
static int legacy_num_queues(struct vdev *d, uint16_t *ret)
{
	uint16_t n;

	for (n = 0; n < VDEV_MAX_QUEUES; n++) {
		uint16_t max;
		int r = legacy_queue_max(d, n, &max);

		if (r)
			return r;
		if (!max)
			break;
	}
	*ret = n;
	return 0;
}

/* §2.7.2 legacy layout: the device derives avail and used from the PFN and
 * its own queue size, so the ring must sit exactly where it will look. */
static int legacy_check_layout(struct vdev *d, struct virtqueue *vq,
			       uint16_t max)
{
	uint64_t desc = vq_desc_addr(vq);
	uint64_t q = vq_size(vq);
	uint64_t avail = desc + 16 * q;
	uint64_t used = VQ_ALIGN_UP(avail + 6 + 2 * q, (uint64_t)LEGACY_ALIGN);

	if (q != max)
		return log_err(-VQ_EINVAL,
			       "%s: legacy queue %u must have the device's size %u, not %llu",
			       d->name, vq_index(vq), max,
			       (unsigned long long)q);
	if (desc % LEGACY_ALIGN || (desc >> LEGACY_PFN_SHIFT) > 0xFFFFFFFFu)
		return log_err(-VQ_EINVAL,
			       "%s: legacy queue %u at 0x%llx: not 4096-aligned below 16 TiB",
			       d->name, vq_index(vq),
			       (unsigned long long)desc);
	if (vq_avail_addr(vq) != avail || vq_used_addr(vq) != used)
		return log_err(-VQ_EINVAL,
			       "%s: legacy queue %u not in the legacy layout",
			       d->name, vq_index(vq));
	return 0;
}

static int legacy_queue_enable(struct vdev *d, uint16_t idx,
			       struct virtqueue *vq)
{
	uint16_t max;
	int r = legacy_queue_max(d, idx, &max);

	if (!r)
		r = legacy_check_layout(d, vq, max);
	if (!r)
		r = legacy_set(d, queue_select, idx);
	if (r)
		return r;
	/* Writing the PFN is what activates a legacy queue. */
	return legacy_set(d, queue_pfn, vq_desc_addr(vq) >> LEGACY_PFN_SHIFT);
}

static void legacy_notify(struct vdev *d, uint16_t idx)
{
	if (legacy_set(d, queue_notify, idx))
		log_warn("%s: notify of queue %u failed", d->name, idx);
}

static int legacy_isr(struct vdev *d, uint8_t *ret)
{
	uint64_t v;
	int r = legacy_get(d, isr_status, &v);

	if (r)
		return r;
	*ret = (uint8_t)v;
	return 0;
}

const struct vtransport_ops vpci_legacy_ops = {
	.name = "legacy",
	.get_status = legacy_get_status,
	.set_status = legacy_set_status,
	.get_features = legacy_get_features,
	.set_features = legacy_set_features,
	.config_read = legacy_config_read,
	.config_write = vpci_cfg_write,
	.num_queues = legacy_num_queues,
	.queue_max = legacy_queue_max,
	.queue_enable = legacy_queue_enable,
	.notify = legacy_notify,
	.isr = legacy_isr,
};

/* §4.1.4.8: the device config follows the registers, and with MSI-X
 * enabled on the function also the two MSI-X vector registers. We never
 * enable MSI-X, but whoever drove the function before us may have. */
static int legacy_config_offset(struct vdev *d, uint32_t *ret)
{
	uint32_t ctrl = 0;
	int r = 0;

	*ret = sizeof(struct virtio_pci_legacy_regs);
	if (d->msix_cap)
		r = d->bus.ops->cfg_read(d->bus.ctx, d->msix_cap + PCI_MSIX_FLAGS,
					 2, &ctrl);
	if (r)
		return log_err(r, "%s: cannot read the MSI-X capability at 0x%x",
			       d->bus.name, d->msix_cap);
	if (ctrl & PCI_MSIX_FLAGS_ENABLE)
		*ret += sizeof(struct virtio_pci_legacy_msix);
	return 0;
}

int vpci_legacy_setup(struct vdev *d)
{
	bool io;
	uint64_t size;
	uint32_t off;
	int r = d->bus.ops->bar_info(d->bus.ctx, LEGACY_BAR, &io, &size);

	if (r || !io || size < sizeof(struct virtio_pci_legacy_regs))
		return log_err(-VQ_ENODEV,
			       "%s: transitional virtio device without usable capabilities or legacy I/O BAR0",
			       d->bus.name);
	r = legacy_config_offset(d, &off);
	if (r)
		return r;
	d->ops = &vpci_legacy_ops;
	d->legacy = true;
	size = VQ_MIN(size, (uint64_t)0x100);
	d->device = (struct vpci_region){
		.present = true, .bar = LEGACY_BAR, .offset = off,
		.length = size > off ? (uint32_t)(size - off) : 0,
	};
	if (off != sizeof(struct virtio_pci_legacy_regs))
		log_debug("%s: MSI-X enabled: legacy device config at 0x%x",
			  d->bus.name, off);
	return 0;
}
