/* SPDX-License-Identifier: MIT */
/*
 * vqdiag list: every virtio-pci device, its transport, features offered and
 * negotiated, queues and device config. Each device is taken from the
 * firmware, initialised up to FEATURES_OK, read, reset and given back, so the
 * firmware finds it as before.
 */
#include "apps/vqdiag/diag.h"
#include "efi/secureboot.h"
#include "lib/log.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_gpu.h"
#include "virtio/virtio_scsi.h"
#include "lib/fmt.h"

static void json_put(void *ctx, const char *s)
{
	(void)ctx;
	con_puts(s);
}

void diag_out_begin(struct diag_out *o, bool json, const char *command)
{
	o->json = json;
	if (!json)
		return;
	con_printf("%s\n", VQDIAG_JSON_BEGIN);
	json_init(&o->j, json_put, NULL);
	/* One value a line: no console wraps a line for us. */
	o->j.line_breaks = true;
	json_begin_object(&o->j, NULL);
	json_string(&o->j, "tool", "vqdiag");
	json_string(&o->j, "command", command);
}

void diag_out_end(struct diag_out *o)
{
	if (!o->json)
		return;
	json_end_object(&o->j);
	con_printf("\n%s\n", VQDIAG_JSON_END);
}

int diag_param_u64(const struct diag_params *p, const char *name, uint64_t max,
		   uint64_t *ret)
{
	size_t n = strlen(name);

	for (unsigned i = 0; i < p->argc; i++) {
		const char *a = p->argv[i], *val = a + n + 1;
		uint64_t v = 0;

		if (strncmp(a, name, n) || a[n] != '=')
			continue;
		for (a = val; *a >= '0' && *a <= '9'; a++) {
			unsigned d = (unsigned)(*a - '0');
			if (v > (max - d) / 10)
				return log_err(-VQ_ERANGE, "vqdiag: %s=%s is over %llu",
					       name, val, (unsigned long long)max);
			v = v * 10 + d;
		}
		if (*a || a == val)
			return log_err(-VQ_EINVAL, "vqdiag: %s=%s is not a number",
				       name, val);
		*ret = v;
		return 1;
	}
	return 0;
}

/* The features vqboot's own driver for this type would accept. */
static uint64_t driver_filter(uint16_t type, uint64_t offered)
{
	switch (type) {
	case VIRTIO_ID_BLOCK:
		return vblk_features(offered);
	case VIRTIO_ID_GPU:
		return vgpu_features(offered);
	case VIRTIO_ID_SCSI:
		return vscsi_features(offered);
	default:
		return offered & (VIRTIO_BIT(VIRTIO_F_VERSION_1) |
				  VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM));
	}
}

static uint64_t filter_for_type(void *ctx, uint64_t offered)
{
	const struct vdev *v = ctx;

	return driver_filter(v->type, offered);
}

static void feature_names(struct diag_out *o, const char *key, uint16_t type,
			  uint64_t bits)
{
	char line[768];
	size_t n = 0;

	if (o->json)
		json_begin_array(&o->j, key);
	line[0] = 0;
	for (unsigned b = 0; b < 64; b++) {
		if (!(bits & VIRTIO_BIT(b)))
			continue;
		const char *name = virtio_feature_name(type, b);
		char unknown[16];
		if (!name) {
			vq_snprintf(unknown, sizeof(unknown), "BIT_%u", b);
			name = unknown;
		}
		if (o->json)
			json_string(&o->j, NULL, name);
		else if (n < sizeof(line))
			n += vq_snprintf(line + n, sizeof(line) - n, " %s", name);
	}
	if (o->json)
		json_end_array(&o->j);
	else
		con_printf("  %-11s%s\n", key, n ? line : " (none)");
}

static void list_queues(struct diag_out *o, struct vdev *v)
{
	uint16_t nq = 0, max;

	if (v->ops->num_queues(v, &nq))
		nq = 0;
	if (nq > 64)
		nq = 64;
	if (o->json)
		json_begin_array(&o->j, "queues");
	else
		con_printf("  queues:    %u", nq);
	for (uint16_t i = 0; i < nq; i++) {
		if (v->ops->queue_max(v, i, &max))
			max = 0;
		if (o->json) {
			json_begin_object(&o->j, NULL);
			json_uint(&o->j, "index", i);
			json_uint(&o->j, "max_size", max);
			json_end_object(&o->j);
		} else {
			con_printf("%s%u:%u", i ? " " : " (size ", i, max);
		}
	}
	if (o->json)
		json_end_array(&o->j);
	else
		con_printf("%s\n", nq ? ")" : "");
}

static void list_blk_config(struct diag_out *o, struct vdev *v)
{
	uint64_t cap = 0;
	uint32_t blk_size = 512, seg_max = 0, size_max = 0;
	bool ro = v->features & VIRTIO_BIT(VIRTIO_BLK_F_RO);

	vdev_config_get(v, struct virtio_blk_config, capacity, &cap);
	if (v->features & VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE))
		vdev_config_get(v, struct virtio_blk_config, blk_size, &blk_size);
	if (v->features & VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX))
		vdev_config_get(v, struct virtio_blk_config, seg_max, &seg_max);
	if (v->features & VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX))
		vdev_config_get(v, struct virtio_blk_config, size_max, &size_max);
	if (o->json) {
		json_begin_object(&o->j, "block");
		json_uint(&o->j, "capacity_sectors", cap);
		json_uint(&o->j, "capacity_bytes", cap * 512);
		json_uint(&o->j, "block_size", blk_size);
		json_uint(&o->j, "seg_max", seg_max);
		json_uint(&o->j, "size_max", size_max);
		json_bool(&o->j, "read_only", ro);
		json_end_object(&o->j);
		return;
	}
	con_printf("  capacity:  %llu sectors (%llu MiB), block size %u\n",
		   (unsigned long long)cap, (unsigned long long)(cap >> 11), blk_size);
	con_printf("  seg_max:   %u, size_max: %u, read-only: %s\n", seg_max,
		   size_max, ro ? "yes" : "no");
}

static void list_scsi_config(struct diag_out *o, struct vdev *v)
{
	struct virtio_scsi_config c = { 0 };

#define SCSI_CFG(f) vdev_config_get(v, struct virtio_scsi_config, f, &c.f)
	SCSI_CFG(num_queues);
	SCSI_CFG(seg_max);
	SCSI_CFG(max_sectors);
	SCSI_CFG(cmd_per_lun);
	SCSI_CFG(event_info_size);
	SCSI_CFG(sense_size);
	SCSI_CFG(cdb_size);
	SCSI_CFG(max_channel);
	SCSI_CFG(max_target);
	SCSI_CFG(max_lun);
#undef SCSI_CFG
	if (o->json) {
		json_begin_object(&o->j, "scsi");
		json_uint(&o->j, "num_queues", c.num_queues);
		json_uint(&o->j, "seg_max", c.seg_max);
		json_uint(&o->j, "max_sectors", c.max_sectors);
		json_uint(&o->j, "cmd_per_lun", c.cmd_per_lun);
		json_uint(&o->j, "event_info_size", c.event_info_size);
		json_uint(&o->j, "sense_size", c.sense_size);
		json_uint(&o->j, "cdb_size", c.cdb_size);
		json_uint(&o->j, "max_channel", c.max_channel);
		json_uint(&o->j, "max_target", c.max_target);
		json_uint(&o->j, "max_lun", c.max_lun);
		json_end_object(&o->j);
		return;
	}
	con_printf("  requestqs: %u, seg_max %u, max_sectors %u, cmd_per_lun %u\n",
		   c.num_queues, c.seg_max, c.max_sectors, c.cmd_per_lun);
	con_printf("  sizes:     cdb %u, sense %u, event info %u\n", c.cdb_size,
		   c.sense_size, c.event_info_size);
	con_printf("  address:   max_channel %u, max_target %u, max_lun %u\n",
		   c.max_channel, c.max_target, c.max_lun);
}

static void list_gpu_config(struct diag_out *o, struct vdev *v)
{
	uint32_t scanouts = 0;

	vdev_config_get(v, struct virtio_gpu_config, num_scanouts, &scanouts);
	if (o->json) {
		json_begin_object(&o->j, "gpu");
		json_uint(&o->j, "num_scanouts", scanouts);
		json_end_object(&o->j);
		return;
	}
	con_printf("  scanouts:  %u\n", scanouts);
}

static void list_header(struct diag_out *o, struct efi_pci_dev *d)
{
	struct vdev *v = &d->vdev;
	const char *transport = v->ops->name;

	if (o->json) {
		json_string(&o->j, "pci", v->bus.name);
		json_string(&o->j, "type", virtio_type_name(v->type));
		json_uint(&o->j, "type_id", v->type);
		json_string(&o->j, "transport", transport);
		json_bool(&o->j, "transitional", v->transitional);
		json_uint(&o->j, "vendor_id", v->pci_vendor);
		json_uint(&o->j, "device_id", v->pci_device);
		json_uint(&o->j, "revision", v->pci_revision);
		json_bool(&o->j, "firmware_driver", d->had_driver);
		return;
	}
	con_printf("%s %s (virtio type %u), %s transport%s, pci %04x:%04x rev %u%s\n",
		   v->bus.name, virtio_type_name(v->type), v->type, transport,
		   v->transitional ? " (transitional)" : "", v->pci_vendor,
		   v->pci_device, v->pci_revision,
		   d->had_driver ? ", firmware driver bound" : "");
}

static void list_one(struct diag_out *o, struct efi_pci_dev *d)
{
	struct vdev *v = &d->vdev;
	EFI_STATUS st;
	int r;

	if (o->json)
		json_begin_object(&o->j, NULL);
	st = efi_pci_take(d);
	list_header(o, d);
	if (EFI_ERROR(st)) {
		if (o->json) {
			json_string(&o->j, "error", "cannot take the device from the firmware");
			json_end_object(&o->j);
		}
		return;
	}
	r = vdev_init(v, filter_for_type, v);
	feature_names(o, "offered", v->type, v->features_offered);
	if (r) {
		if (o->json)
			json_string(&o->j, "error", vq_strerror(r));
		else
			con_printf("  error:     initialisation failed: %s\n", vq_strerror(r));
	} else {
		feature_names(o, "negotiated", v->type, v->features);
	}
	list_queues(o, v);
	if (!r && v->type == VIRTIO_ID_BLOCK)
		list_blk_config(o, v);
	if (!r && v->type == VIRTIO_ID_GPU)
		list_gpu_config(o, v);
	if (!r && v->type == VIRTIO_ID_SCSI)
		list_scsi_config(o, v);
	efi_pci_give_back(d);
	if (o->json)
		json_end_object(&o->j);
}

static void list_secure_boot(struct diag_out *o)
{
	const struct sb_state *sb = sb_state();

	if (!o->json) {
		con_printf("vqdiag: Secure Boot %s\n", sb_state_text(sb));
		return;
	}
	json_begin_object(&o->j, "secure_boot");
	json_bool(&o->j, "enabled", sb->secure_boot);
	json_bool(&o->j, "setup_mode", sb->setup_mode);
	json_bool(&o->j, "shim", sb->shim);
	json_end_object(&o->j);
}

EFI_STATUS diag_list(struct diag_out *o, const struct diag_params *p)
{
	struct efi_pci_dev *devs;
	unsigned n;
	EFI_STATUS st = efi_pci_find_virtio(&devs, &n);

	if (EFI_ERROR(st)) {
		log_error("vqdiag: cannot enumerate PCI devices (status 0x%llx)",
			  (unsigned long long)st);
		return st;
	}
	list_secure_boot(o);
	if (o->json)
		json_begin_array(&o->j, "devices");
	else
		con_printf("vqdiag: %u virtio-pci device%s\n", n, n == 1 ? "" : "s");
	/* Log lines would land inside the JSON: errors go into it instead. */
	int level = log_max_level;
	if (o->json)
		log_max_level = -1;
	for (unsigned i = 0; i < n; i++)
		list_one(o, &devs[i]);
	log_max_level = level;
	if (o->json)
		json_end_array(&o->j);
	efi_pci_free_list(devs, n);
	return EFI_SUCCESS;
}
