/* SPDX-License-Identifier: MIT */
#include "efi/vdevs.h"
#include "lib/log.h"

static void open_blk(struct vdevs *v, struct efi_pci_dev *d,
		     const struct vdevs_opts *o)
{
	struct vblk *b;
	int r;

	if (v->nblk >= VDEVS_MAX_DISKS) {
		log_warn("vblk %s: more than %u disks, ignored", d->vdev.bus.name,
			 VDEVS_MAX_DISKS);
		return;
	}
	if (EFI_ERROR(efi_pci_take(d)))
		return;
	r = vblk_open(&d->vdev, &b);
	if (r) {
		log_error("vblk %s: cannot initialise: %s", d->vdev.bus.name,
			  vq_strerror(r));
		efi_pci_give_back(d);
		return;
	}
	vblk_set_force_bounce(b, o->force_bounce);
	if (o->timeout_us)
		vblk_set_timeout(b, o->timeout_us);
	v->blk_pci[v->nblk] = d;
	v->blk[v->nblk++] = b;
}

static void open_gpu(struct vdevs *v, struct efi_pci_dev *d)
{
	int r;

	if (v->gpu || EFI_ERROR(efi_pci_take(d)))
		return;
	r = vgpu_open(&d->vdev, &v->gpu);
	if (!r)
		r = vgpu_start(v->gpu);
	if (r) {
		log_error("vgpu %s: cannot initialise: %s", d->vdev.bus.name,
			  vq_strerror(r));
		if (v->gpu)
			vgpu_close(v->gpu);
		v->gpu = NULL;
		efi_pci_give_back(d);
		return;
	}
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
		else if (d->vdev.type == VIRTIO_ID_GPU && o->want_gpu)
			open_gpu(v, d);
	}
	return EFI_SUCCESS;
}

void vdevs_close_gpu(struct vdevs *v)
{
	if (!v->gpu)
		return;
	vgpu_close(v->gpu);
	v->gpu = NULL;
	efi_pci_give_back(v->gpu_pci);
}

void vdevs_close(struct vdevs *v)
{
	vdevs_close_gpu(v);
	for (unsigned i = 0; i < v->nblk; i++) {
		vblk_close(v->blk[i]);
		efi_pci_give_back(v->blk_pci[i]);
	}
	v->nblk = 0;
	if (v->pci)
		efi_pci_free_list(v->pci, v->npci);
	v->pci = NULL;
	v->npci = 0;
}
