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
		else if (d->vdev.type == VIRTIO_ID_GPU && o->want_gpu)
			open_gpu(v, d);
	}
	return EFI_SUCCESS;
}

void vdevs_close_gpu(struct vdevs *v)
{
	if (!v->gpu)
		return;
	vdevs_release_gpu(v->gpu_pci, v->gpu);
	v->gpu = NULL;
}

void vdevs_close(struct vdevs *v)
{
	vdevs_close_gpu(v);
	for (unsigned i = 0; i < v->nblk; i++)
		vdevs_release_blk(v->blk_pci[i], v->blk[i]);
	v->nblk = 0;
	if (v->pci)
		efi_pci_free_list(v->pci, v->npci);
	v->pci = NULL;
	v->npci = 0;
}
