/* SPDX-License-Identifier: MIT */
/* Taking virtio devices from the firmware, and giving them back. */
#include "efi/vdevs.h"
#include "lib/log.h"

EFI_STATUS vdevs_take_blk(struct efi_pci_dev *d, bool force_bounce,
			  uint64_t timeout_us, struct vblk **ret)
{
	struct vblk *b;
	EFI_STATUS st = efi_pci_take(d);
	int r;

	if (EFI_ERROR(st))
		return st;
	r = vblk_open(&d->vdev, &b);
	if (r) {
		log_error("vblk %s: cannot initialise: %s", d->vdev.bus.name,
			  vq_strerror(r));
		efi_pci_give_back(d);
		return efi_from_vq(r);
	}
	vblk_set_force_bounce(b, force_bounce);
	if (timeout_us)
		vblk_set_timeout(b, timeout_us);
	*ret = b;
	return EFI_SUCCESS;
}

void vdevs_release_blk(struct efi_pci_dev *d, struct vblk *b)
{
	vblk_close(b);
	efi_pci_give_back(d);
}

EFI_STATUS vdevs_take_gpu(struct efi_pci_dev *d,
			  void (*before_start)(void *ctx, struct vgpu *g),
			  void *ctx, bool start, struct vgpu **ret)
{
	struct vgpu *g = NULL;
	EFI_STATUS st = efi_pci_take(d);
	int r;

	if (EFI_ERROR(st))
		return st;
	r = vgpu_open(&d->vdev, &g);
	if (!r && before_start)
		before_start(ctx, g);
	if (!r && start)
		r = vgpu_start(g);
	if (r) {
		log_error("vgpu %s: cannot initialise: %s", d->vdev.bus.name,
			  vq_strerror(r));
		vdevs_release_gpu(d, g);
		return efi_from_vq(r);
	}
	*ret = g;
	return EFI_SUCCESS;
}

void vdevs_release_gpu(struct efi_pci_dev *d, struct vgpu *g)
{
	if (g)
		vgpu_close(g);
	efi_pci_give_back(d);
}

static void open_blk(struct vdevs *v, struct efi_pci_dev *d,
		     const struct vdevs_opts *o)
{
	if (v->nblk >= VDEVS_MAX_DISKS) {
		log_warn("vblk %s: more than %u disks, ignored", d->vdev.bus.name,
			 VDEVS_MAX_DISKS);
		return;
	}
	if (EFI_ERROR(vdevs_take_blk(d, o->force_bounce, o->timeout_us,
				     &v->blk[v->nblk])))
		return;
	v->blk_pci[v->nblk++] = d;
}

EFI_STATUS vdevs_take_scsi(struct efi_pci_dev *d, bool force_bounce,
			   uint64_t timeout_us, struct vscsi **ret)
{
	struct vscsi *c;
	EFI_STATUS st = efi_pci_take(d);
	int r;

	if (EFI_ERROR(st))
		return st;
	r = vscsi_open(&d->vdev, &c);
	if (r) {
		log_error("vscsi %s: cannot initialise: %s", d->vdev.bus.name,
			  vq_strerror(r));
		efi_pci_give_back(d);
		return efi_from_vq(r);
	}
	vscsi_set_force_bounce(c, force_bounce);
	if (timeout_us)
		vscsi_set_timeout(c, timeout_us);
	r = vscsi_scan(c);
	if (r) {
		vdevs_release_scsi(d, c);
		return efi_from_vq(r);
	}
	*ret = c;
	return EFI_SUCCESS;
}

void vdevs_release_scsi(struct efi_pci_dev *d, struct vscsi *c)
{
	vscsi_close(c);
	efi_pci_give_back(d);
}

static void open_scsi(struct vdevs *v, struct efi_pci_dev *d,
		      const struct vdevs_opts *o)
{
	if (v->nscsi >= VDEVS_MAX_SCSI) {
		log_warn("vscsi %s: more than %u SCSI controllers, ignored",
			 d->vdev.bus.name, VDEVS_MAX_SCSI);
		return;
	}
	if (EFI_ERROR(vdevs_take_scsi(d, o->force_bounce, o->timeout_us,
				      &v->scsi[v->nscsi])))
		return;
	v->scsi_pci[v->nscsi++] = d;
}

unsigned vdevs_disks(struct vdevs *v, struct blockdev **ret, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < v->nblk && n < max; i++)
		ret[n++] = vblk_bdev(v->blk[i]);
	for (unsigned i = 0; i < v->nscsi; i++)
		for (unsigned j = 0; j < vscsi_lun_count(v->scsi[i]) && n < max; j++) {
			struct blockdev *bd = vscsi_lun_bdev(vscsi_lun_at(v->scsi[i], j));

			if (bd)
				ret[n++] = bd;
		}
	return n;
}

uint64_t vdevs_bounced_bytes(const struct vdevs *v)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < v->nblk; i++) {
		struct vblk_stats st;

		vblk_get_stats(v->blk[i], &st);
		sum += st.bounced_bytes;
	}
	for (unsigned i = 0; i < v->nscsi; i++) {
		struct vscsi_stats st;

		vscsi_get_stats(v->scsi[i], &st);
		sum += st.bounced_bytes;
	}
	return sum;
}

static void open_gpu(struct vdevs *v, struct efi_pci_dev *d)
{
	if (v->gpu || EFI_ERROR(vdevs_take_gpu(d, NULL, NULL, true, &v->gpu)))
		return;
	v->gpu_pci = d;
}

EFI_STATUS vdevs_open(struct vdevs *v, const struct vdevs_opts *o)
{
	EFI_STATUS st;

	*v = (struct vdevs){ 0 };
	st = efi_pci_find_virtio(&v->pci, &v->npci);
	if (EFI_ERROR(st))
		return st;
	for (unsigned i = 0; i < v->npci; i++) {
		struct efi_pci_dev *d = &v->pci[i];

		if (d->vdev.type == VIRTIO_ID_BLOCK && o->want_blk)
			open_blk(v, d, o);
		else if (d->vdev.type == VIRTIO_ID_SCSI && o->want_scsi)
			open_scsi(v, d, o);
		else if (d->vdev.type == VIRTIO_ID_GPU && o->want_gpu)
			open_gpu(v, d);
	}
	return EFI_SUCCESS;
}

EFI_STATUS vdevs_open_gpu(struct vdevs *v)
{
	if (v->gpu)
		return EFI_SUCCESS;
	for (unsigned i = 0; i < v->npci; i++)
		if (v->pci[i].vdev.type == VIRTIO_ID_GPU) {
			open_gpu(v, &v->pci[i]);
			if (v->gpu)
				return EFI_SUCCESS;
		}
	return EFI_NOT_FOUND;
}

void vdevs_close_gpu(struct vdevs *v)
{
	if (!v->gpu)
		return;
	vdevs_release_gpu(v->gpu_pci, v->gpu);
	v->gpu = NULL;
}

void vdevs_defer_disk_reconnect(struct vdevs *v)
{
	for (unsigned i = 0; i < v->nblk; i++)
		v->blk_pci[i]->defer_reconnect = true;
	for (unsigned i = 0; i < v->nscsi; i++)
		v->scsi_pci[i]->defer_reconnect = true;
}

/* Write 0 and read until it reads 0: no allocation, no log, no Stall (the
 * firmware's timer is already off when this runs). */
static void reset_quietly(struct vdev *d)
{
	uint8_t st = 0xff;

	if (d->ops->set_status(d, 0))
		return;
	for (unsigned i = 0; i < 100000 && st; i++)
		if (d->ops->get_status(d, &st))
			return;
}

static VOID EFIAPI reset_disks_at_exit(EFI_EVENT ev, VOID *ctx)
{
	struct vdevs *v = ctx;

	(void)ev;
	for (unsigned i = 0; i < v->nblk; i++)
		reset_quietly(&v->blk_pci[i]->vdev);
	for (unsigned i = 0; i < v->nscsi; i++)
		reset_quietly(&v->scsi_pci[i]->vdev);
}

EFI_STATUS vdevs_reset_at_exit(struct vdevs *v)
{
	EFI_STATUS st;

	if (v->exit_event)
		return EFI_SUCCESS;
	st = BS->CreateEvent(EVT_SIGNAL_EXIT_BOOT_SERVICES, TPL_CALLBACK,
			     reset_disks_at_exit, v, &v->exit_event);
	if (EFI_ERROR(st)) {
		log_error("vdevs: cannot create the ExitBootServices event (status 0x%llx)",
			  (unsigned long long)st);
		v->exit_event = NULL;
	}
	return st;
}

void vdevs_close(struct vdevs *v)
{
	/* Before anything is freed: the event must never see it. */
	if (v->exit_event)
		BS->CloseEvent(v->exit_event);
	v->exit_event = NULL;
	vdevs_close_gpu(v);
	for (unsigned i = 0; i < v->nblk; i++)
		vdevs_release_blk(v->blk_pci[i], v->blk[i]);
	v->nblk = 0;
	for (unsigned i = 0; i < v->nscsi; i++)
		vdevs_release_scsi(v->scsi_pci[i], v->scsi[i]);
	v->nscsi = 0;
	if (v->pci)
		efi_pci_free_list(v->pci, v->npci);
	v->pci = NULL;
	v->npci = 0;
}
