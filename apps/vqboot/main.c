/* SPDX-License-Identifier: MIT */
/*
 * vqboot: finds Boot Loader Specification entries on the virtio disks with
 * its own drivers, shows the menu, loads the chosen kernel and initrds and
 * starts it. Wiring only: the logic lives in boot/, virtio/ and efi/.
 */
#include "efi/bli.h"
#include "apps/vqboot/bootmenu.h"
#include "efi/image.h"
#include "efi/secureboot.h"
#include "efi/tpm.h"
#include "apps/vqboot/screen.h"
#include "efi/vdevs.h"
#include "boot/load.h"
#include "boot/uki.h"
#include "lib/log.h"
#include "boot/opts.h"
#include "lib/plat.h"
#include "lib/fmt.h"

#define VQBOOT_TITLE "vqboot 0.1 - boot menu"
#define PROGRESS_EVERY_US 100000 /* screen updates while loading: 10 per second */
#define PROGRESS_SHOW_AFTER_US 1000000 /* an unattended load this slow takes the GPU */
#define VQBOOT_MAX_DISKS 32 /* virtio-blk disks and SCSI LUNs together */
#define FAILED_IDLE_QUIT_US (30ULL * 1000 * 1000)
#define REFUSED_MAX 8

struct vqboot {
	struct vq_opts opts;
	struct vdevs devs;
	struct blockdev *disks[VQBOOT_MAX_DISKS];
	unsigned ndisks;
	struct boot_scan scan;
	struct menu_item *items;
	uint64_t start_us;
	bool linux_kernel;       /* the image being started is a Linux kernel */
	/* loading */
	char loading_title[300];
	uint64_t load_start_us;
	uint64_t last_progress_us;
	bool failed_once;
	struct tpm_boot tpm;     /* measured just before StartImage */
	bool hold_disks;         /* keep the disks across StartImage (initrds) */
	bool disks_held;         /* ... and they were kept */
	/* Entries Secure Boot refused: marked in the menu from then on. */
	char refused[REFUSED_MAX][BLS_NAME_MAX];
	unsigned nrefused;
};

static bool was_refused(const struct vqboot *vb, const char *id)
{
	for (unsigned i = 0; i < vb->nrefused; i++)
		if (!strcmp(vb->refused[i], id))
			return true;
	return false;
}

static void mark_refused(struct vqboot *vb, const char *id)
{
	if (vb->nrefused < REFUSED_MAX && !was_refused(vb, id))
		vq_snprintf(vb->refused[vb->nrefused++], BLS_NAME_MAX, "%s", id);
}

static int load_alloc(void *ctx, size_t size, void **ret)
{
	return vq_from_efi(image_alloc(size, ret));
}

static void load_release(void *ctx, void *p, size_t size)
{
	image_free(p, size);
}

static void show_screen(struct vqboot *vb);

static void load_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct vqboot *vb = ctx;
	uint64_t now = plat_now_us();

	if (done < total && now - vb->last_progress_us < PROGRESS_EVERY_US)
		return;
	/* A load that takes this long is watched: show its progress. */
	if (!screen_active() && done < total &&
	    now - vb->load_start_us >= PROGRESS_SHOW_AFTER_US) {
		show_screen(vb);
	}
	vb->last_progress_us = now;
	screen_progress(vb->loading_title, done, total, now - vb->load_start_us);
}

/*
 * Errors logged before the GPU is taken wait here, so that a screen taken
 * because something failed shows what failed first.
 */
#define PENDING_ERRORS 6
static struct {
	char line[PENDING_ERRORS][160];
	unsigned count;
} pending;

static void error_hook(int level, const char *line)
{
	if (level != LOG_ERR)
		return;
	if (screen_active()) {
		screen_error(line);
		return;
	}
	if (pending.count < PENDING_ERRORS)
		vq_snprintf(pending.line[pending.count++], sizeof(pending.line[0]),
			    "%s", line);
}

/*
 * The GPU is taken only when something on it will be looked at: the menu,
 * a load slow enough for its progress bar, or an error. An unattended boot
 * (timeout 0) that goes well leaves it with the firmware: taking it and
 * giving it back costs every boot time and shows nothing anyone reads.
 */
static void show_screen(struct vqboot *vb)
{
	if (vb->opts.no_gpu || screen_active() || !vb->devs.pci ||
	    EFI_ERROR(vdevs_open_gpu(&vb->devs)))
		return;
	screen_attach(vb->devs.gpu);
	screen_title(VQBOOT_TITLE);
	for (unsigned i = 0; i < pending.count; i++)
		screen_error(pending.line[i]);
	pending.count = 0;
	screen_flush();
}

static EFI_STATUS open_devices(struct vqboot *vb)
{
	/* The GPU stays with the firmware until show_screen(). */
	struct vdevs_opts o = { .want_blk = true, .want_scsi = true,
				.force_bounce = vb->opts.bounce,
				.timeout_us = vb->opts.io_timeout_ms * 1000ULL };
	EFI_STATUS st;

	pending.count = 0;
	efi_log_hook = error_hook;
	st = vdevs_open(&vb->devs, &o);
	if (EFI_ERROR(st))
		return st;
	vb->ndisks = vdevs_disks(&vb->devs, vb->disks, VQBOOT_MAX_DISKS);
	if (!vb->ndisks) {
		log_error("vqboot: no virtio disk found");
		return EFI_NOT_FOUND;
	}
	return EFI_SUCCESS;
}

/* The display goes back to the firmware (the kernel's EFI stub wants its GOP). */
static void release_screen(struct vqboot *vb)
{
	efi_log_hook = NULL;
	pending.count = 0;
	screen_detach();
	vdevs_close_gpu(&vb->devs);
}

static void close_devices(struct vqboot *vb)
{
	release_screen(vb);
	scan_free(&vb->scan);
	vdevs_close(&vb->devs);
	vb->disks_held = false;
}

/* Bytes every disk driver has read so far. */
static uint64_t disk_bytes(const struct vqboot *vb)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < vb->devs.nblk; i++) {
		struct vblk_stats st;
		vblk_get_stats(vb->devs.blk[i], &st);
		sum += st.bytes;
	}
	for (unsigned i = 0; i < vb->devs.nscsi; i++) {
		struct vscsi_stats st;
		vscsi_get_stats(vb->devs.scsi[i], &st);
		sum += st.bytes;
	}
	return sum;
}

static EFI_STATUS find_entries(struct vqboot *vb)
{
	scan_init(&vb->scan);
	/* virtio-blk disks and SCSI LUNs alike: one list, one menu. */
	for (unsigned i = 0; i < vb->ndisks; i++)
		scan_disk(&vb->scan, vb->disks[i], i);
	scan_finish(&vb->scan);
	if (!vb->scan.entries.count) {
		log_error("vqboot: no boot entries on %u virtio disk%s (%u volume%s searched)",
			  vb->ndisks, vb->ndisks == 1 ? "" : "s", vb->scan.nvols,
			  vb->scan.nvols == 1 ? "" : "s");
		return EFI_NOT_FOUND;
	}
	return EFI_SUCCESS;
}

static EFI_STATUS build_menu(struct vqboot *vb, struct menu *m)
{
	struct bls_list *l = &vb->scan.entries;
	struct bls_config *c = &vb->scan.conf;
	int def, timeout = c->timeout_s;
	int r;

	vb->items = plat_alloc(l->count * sizeof(*vb->items));
	if (!vb->items)
		return EFI_OUT_OF_RESOURCES;
	for (size_t i = 0; i < l->count; i++) {
		struct bls_entry *e = l->v[i];
		vb->items[i] = (struct menu_item){
			.title = bls_entry_title(e), .cmdline = e->options,
			.broken = !bls_entry_bootable(e),
			.reason = e->broken ? e->reason : "no linux or efi line" };
		if (was_refused(vb, e->id)) {
			vb->items[i].broken = true;
			vb->items[i].reason = "refused by Secure Boot";
		}
	}
	def = bls_list_default(l, c->default_pattern);
	if (vb->opts.entry[0]) {
		def = bls_list_find(l, vb->opts.entry);
		if (def < 0) {
			log_error("vqboot: --entry %s: no such entry", vb->opts.entry);
			def = bls_list_default(l, c->default_pattern);
		} else {
			timeout = 0;
		}
	}
	if (vb->opts.timeout_set)
		timeout = vb->opts.timeout_s;
	if (vb->failed_once)
		timeout = -1;
	/* The editor may use what --append leaves of the command line. */
	size_t room = LOAD_CMDLINE_MAX - 1 - VQ_MIN(strlen(vb->opts.append),
						    (size_t)LOAD_CMDLINE_MAX / 2);
	r = menu_init(m, vb->items, l->count, def < 0 ? 0 : (size_t)def, timeout,
		      c->editor, room);
	return efi_from_vq(r);
}

static void give_back_devices(void *ctx)
{
	struct vqboot *vb = ctx;

	/* LoadImage accepted the image: measure, then let go of the devices. */
	tpm_boot_measure(&vb->tpm);
	if (vb->hold_disks) {
		/* The initrds are still on the disk: the disks stay ours until
		 * ExitBootServices resets them (or StartImage returns). */
		release_screen(vb);
		vb->disks_held = true;
		log_info("vqboot: disks kept to read the initrds when the kernel asks "
			 "(reset at ExitBootServices), the display given back; starting the image");
		bli_set_exec();
		return;
	}
	/* Every device we drove goes back, reset, before StartImage. A Linux
	 * kernel reads no disk through the firmware (its initrd comes through
	 * LoadFile2), so the disks' firmware drivers are bound again only if
	 * it returns; an EFI program (or a UKI's stub) gets them at once. */
	if (vb->linux_kernel)
		vdevs_defer_disk_reconnect(&vb->devs);
	close_devices(vb);
	log_info("vqboot: every device reset and given back%s; starting the image",
		 vb->linux_kernel ? " (disk drivers reconnected if the kernel returns)" : "");
	bli_set_exec();
}

static void report_load(struct vqboot *vb, const struct bls_entry *e,
			const struct loaded_entry *l)
{
	uint64_t now = plat_now_us();
	uint64_t rate = l->read_us ? l->bytes / l->read_us : 0;
	uint64_t bounced = vdevs_bounced_bytes(&vb->devs);

	/* Per disk, what vqboot's own driver did: the tests read this to tell
	 * it from a firmware read. */
	for (unsigned i = 0; i < vb->devs.nblk; i++) {
		struct vblk_stats st;
		vblk_get_stats(vb->devs.blk[i], &st);
		log_info("%s: vqboot's driver read %llu bytes in %llu requests",
			 vblk_bdev(vb->devs.blk[i])->name,
			 (unsigned long long)st.bytes,
			 (unsigned long long)st.requests);
	}
	for (unsigned i = 0; i < vb->devs.nscsi; i++) {
		struct vscsi_stats st;
		vscsi_get_stats(vb->devs.scsi[i], &st);
		log_info("%s: vqboot's driver read %llu bytes in %llu requests",
			 vscsi_name(vb->devs.scsi[i]), (unsigned long long)st.bytes,
			 (unsigned long long)st.reads);
	}
	log_info("vqboot: loaded %s: %llu bytes in %llu ms (%llu MB/s, %llu bytes bounced); "
		 "start to StartImage %llu ms",
		 e->id, (unsigned long long)l->bytes,
		 (unsigned long long)(l->read_us / 1000), (unsigned long long)rate,
		 (unsigned long long)bounced,
		 (unsigned long long)((now - vb->start_us) / 1000));
	if (l->initrd_deferred && !l->initrd)
		log_info("vqboot: %u initrd%s (%zu bytes) left on %s until the kernel asks",
			 l->initrd_count, l->initrd_count == 1 ? "" : "s", l->initrd_size,
			 l->initrd_vol);
	if (e->kind == BLS_KIND_UKI && !l->cmdline[0])
		log_info("vqboot: command line: none passed, the image's own%s",
			 e->has_cmdline ? " .cmdline" : " (it has no .cmdline)");
	else
		log_info("vqboot: command line: %s", l->cmdline);
}

struct initrd_reader {
	struct vqboot *vb;
	const struct loaded_entry *l;
};

/* The LoadFile2 read: from the disk straight into the kernel's buffer,
 * measured there before the kernel gets it. */
static int read_initrds(void *ctx, void *buf, size_t size)
{
	struct initrd_reader *rd = ctx;
	uint64_t t0 = plat_now_us(), before = disk_bytes(rd->vb);
	int r = load_initrds_into(rd->l, buf, size);

	if (r)
		return r;
	uint64_t us = plat_now_us() - t0;
	/* Every delivery is measured: a second call reads the disk again,
	 * and what the kernel got is what the log says it got. */
	tpm_measure_initrds(rd->l, buf);
	log_info("initrd: %zu bytes (%u file%s) read by vqboot's driver from %s straight "
		 "into the kernel's LoadFile2 buffer in %llu us; the driver read %llu bytes",
		 size, rd->l->initrd_count, rd->l->initrd_count == 1 ? "" : "s",
		 rd->l->initrd_vol, (unsigned long long)us,
		 (unsigned long long)(disk_bytes(rd->vb) - before));
	return 0;
}

/* An initrd= word on a Linux kernel's command line is read by its EFI stub
 * itself, through a file system of the firmware's on the disk it came
 * from; vqboot has taken those disks, and the kernel would stop there. */
static void warn_initrd_word(const char *cmdline)
{
	static const char word[] = "initrd=";

	for (const char *p = cmdline; *p; p++) {
		if ((p != cmdline && p[-1] != ' ') ||
		    strncmp(p, word, sizeof(word) - 1) != 0)
			continue;
		int len = 0;
		while (p[len] && p[len] != ' ')
			len++;
		log_warn("vqboot: the command line names %.*s, which the kernel's stub "
			 "would read through the firmware's file system; vqboot does not "
			 "give it one: make it an 'initrd' line of the entry", len, p);
		return;
	}
}

/* Deferred initrds need the disks until ExitBootServices; without the
 * event that resets them then, read them now, as for other images. */
static int hold_for_initrds(struct vqboot *vb, struct loaded_entry *l,
			    const struct load_ops *ops)
{
	int r;

	if (!EFI_ERROR(vdevs_reset_at_exit(&vb->devs))) {
		vb->hold_disks = true;
		return 0;
	}
	r = ops->alloc(ops->ctx, l->initrd_size, &l->initrd);
	if (r)
		return log_err(r, "initrd: cannot allocate %zu bytes", l->initrd_size);
	r = load_initrds_into(l, l->initrd, l->initrd_size);
	/* load_free() frees the copy and closes the files. */
	return r;
}

/* Returns only when the entry did not boot, with the reason. */
static EFI_STATUS boot_entry(struct vqboot *vb, size_t index, const char *cmdline)
{
	const struct bls_entry *e = vb->scan.entries.v[index];
	struct load_ops ops = { load_alloc, load_release, load_progress, vb };
	struct loaded_entry l;
	int r;

	vq_snprintf(vb->loading_title, sizeof(vb->loading_title), "Loading %s",
		    bls_entry_title(e));
	vb->load_start_us = plat_now_us();
	vb->last_progress_us = 0;
	screen_title(VQBOOT_TITLE);
	log_info("vqboot: booting %s", e->id);
	/* The menu may have edited the options: the entry's own are replaced. */
	struct bls_entry *edited = plat_alloc(sizeof(*edited));
	if (!edited)
		return EFI_OUT_OF_RESOURCES;
	*edited = *e;
	vq_snprintf(edited->options, sizeof(edited->options), "%s", cmdline ? cmdline : "");
	bool was_edited = strcmp(edited->options, e->options) != 0;
	if (was_edited)
		log_info("vqboot: command line edited: %s", edited->options);
	r = load_entry_flags(&vb->scan, edited, vb->opts.append, &ops,
			     LOAD_DEFER_INITRDS, &l);
	plat_free(edited);
	if (r)
		return efi_from_vq(r);
	vb->hold_disks = false;
	if (l.initrd_deferred) {
		r = hold_for_initrds(vb, &l, &ops);
		if (r) {
			load_free(&l, &ops);
			return efi_from_vq(r);
		}
	}
	/* A unified kernel image's stub takes the command line: ours only
	 * when the user changed it, by systemd-stub's rules (its Secure Boot
	 * test is the SecureBoot variable). */
	if (e->kind == BLS_KIND_UKI &&
	    !uki_pass_cmdline(e, cmdline, vb->opts.append, sb_state()->secure_boot))
		l.cmdline[0] = '\0';
	report_load(vb, e, &l);
	tpm_boot_prepare(&vb->tpm, &vb->scan, e, &l, was_edited);
	bli_set_entry(e);
	vb->linux_kernel = e->linux_path[0] && e->kind != BLS_KIND_UKI;
	if (vb->linux_kernel)
		warn_initrd_word(l.cmdline);
	struct initrd_reader rd = { vb, &l };
	struct initrd_src src = { l.initrd_size, read_initrds, &rd };
	struct image_start s = {
		.image = l.image, .image_size = l.image_size, .name = l.image_name,
		.cmdline = l.cmdline, .initrd = l.initrd, .initrd_size = l.initrd_size,
		.initrd_src = vb->hold_disks ? &src : NULL,
		.before_start = give_back_devices, .ctx = vb };
	EFI_STATUS st = image_start(&s);
	/* The files first: they live on the volumes close_devices() frees. */
	load_free(&l, &ops);
	if (vb->disks_held)
		close_devices(vb); /* StartImage returned: every device goes back */
	vb->hold_disks = false;
	efi_pci_reconnect_deferred();
	tpm_boot_free(&vb->tpm);
	/* A started image that returned success still did not boot. */
	return EFI_ERROR(st) ? st : EFI_LOAD_ERROR;
}

static EFI_STATUS run(struct vqboot *vb)
{
	struct menu m;
	struct menu_event ev;
	EFI_STATUS st;

	for (;;) {
		st = open_devices(vb);
		if (!EFI_ERROR(st))
			st = find_entries(vb);
		if (!EFI_ERROR(st))
			st = build_menu(vb, &m);
		if (EFI_ERROR(st)) {
			show_screen(vb);
			return st;
		}
		/* Unattended (timeout 0) with a broken default: nobody will pick
		 * another entry, so hand the failure to the firmware now. */
		if (m.timeout_s == 0 && vb->items[m.default_index].broken) {
			show_screen(vb);
			log_error("vqboot: default entry %s is broken: %s",
				  vb->scan.entries.v[m.default_index]->id,
				  vb->items[m.default_index].reason);
			menu_free(&m);
			return EFI_LOAD_ERROR;
		}
		if (m.timeout_s != 0)
			show_screen(vb);
		bootmenu_run(&m, VQBOOT_TITLE, vb->failed_once ? FAILED_IDLE_QUIT_US : 0, &ev);
		if (ev.type == MENU_EV_QUIT) {
			menu_free(&m);
			log_info("vqboot: leaving the menu, back to the firmware");
			return EFI_ABORTED;
		}
		/* A started image that returned finds the scan freed: its id
		 * is kept for the messages. */
		char id[BLS_NAME_MAX];
		vq_snprintf(id, sizeof(id), "%s", vb->scan.entries.v[ev.index]->id);
		st = boot_entry(vb, ev.index, ev.cmdline);
		/* Still holding the devices if the image never started: the
		 * errors go on screen (StartImage gave everything back). */
		show_screen(vb);
		menu_free(&m);
		plat_free(vb->items);
		vb->items = NULL;
		log_error("vqboot: entry %s did not boot: %s", id, efi_status_name(st));
		if (st == EFI_SECURITY_VIOLATION || st == EFI_ACCESS_DENIED)
			mark_refused(vb, id);
		vb->failed_once = true;
		/* Non-interactive (timeout 0): hand the failure to the firmware. */
		if (vb->opts.timeout_set ? vb->opts.timeout_s == 0
					 : vb->scan.conf.timeout_s == 0)
			return st;
		close_devices(vb);
	}
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	/* The Boot Loader Interface's start: before anything, calibration
	 * included, converted once the counter's rate is known. */
	uint64_t entry = efi_counter();
	static struct vqboot vb;
	EFI_STATUS status;
	char *opts;
	int r;

	efi_platform_init(image, st);
	vb.start_us = efi_counter_to_us(entry);
	bli_set_init(entry);
	opts = efi_load_options_ascii(image);
	r = opts_parse(opts, &vb.opts);
	plat_free(opts);
	if (r || vb.opts.help) {
		con_puts(opts_help_text());
		con_puts("\n");
		return r ? EFI_INVALID_PARAMETER : EFI_SUCCESS;
	}
	if (vb.opts.verbose)
		log_max_level = LOG_DEBUG;
	log_info("vqboot 0.1: clock %llu ticks/us (%s)",
		 (unsigned long long)efi_tsc_per_us(), efi_clock_name());
	const struct sb_state *sb = sb_state();
	log_msg(sb->secure_boot || sb->shim ? LOG_INFO : LOG_DEBUG,
		"vqboot: Secure Boot %s", sb_state_text(sb));
	status = run(&vb);
	close_devices(&vb);
	efi_pci_reconnect_deferred();
	log_info("vqboot: returning to the firmware (status 0x%llx)",
		 (unsigned long long)status);
	return status;
}
