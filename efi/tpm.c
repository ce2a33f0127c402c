/* SPDX-License-Identifier: MIT */
#include "efi/tpm.h"
#include "lib/log.h"

static EFI_GUID tcg2_guid = { 0x607f766c, 0x7455, 0x42be,
	{ 0x93, 0x0b, 0xe4, 0xd7, 0x6d, 0xb2, 0x72, 0x0f } };

/* TCG EFI Protocol Specification, EFI_TCG2_EVENT and the tagged event
 * (packed: the header is 14 bytes). */
struct tcg2_event_header {
	UINT32 header_size;
	UINT16 header_version;
	UINT32 pcr_index;
	UINT32 event_type;
} __attribute__((packed));

struct tcg2_event {
	UINT32 size;
	struct tcg2_event_header header;
	UINT8 event[];
} __attribute__((packed));

struct tcg2_tagged_event {
	UINT32 event_id;
	UINT32 event_size;
	UINT8 event[];
} __attribute__((packed));

#define TCG2_EVENT_HEADER_VERSION 1

struct tcg2_version {
	UINT8 major, minor;
};

struct tcg2_capability {
	UINT8 size;
	struct tcg2_version structure_version;
	struct tcg2_version protocol_version;
	UINT32 hash_algorithm_bitmap;
	UINT32 supported_event_logs;
	BOOLEAN tpm_present;
	UINT16 max_command_size;
	UINT16 max_response_size;
	UINT32 manufacturer_id;
	UINT32 number_of_pcr_banks;
	UINT32 active_pcr_banks;
};

struct tcg2 {
	EFI_STATUS (EFIAPI *get_capability)(struct tcg2 *self, struct tcg2_capability *cap);
	void *get_event_log;
	EFI_STATUS (EFIAPI *hash_log_extend_event)(struct tcg2 *self, UINT64 flags,
						   EFI_PHYSICAL_ADDRESS data, UINT64 len,
						   struct tcg2_event *event);
	void *submit_command, *get_active_pcr_banks, *set_active_pcr_banks,
		*get_result_of_set_active_pcr_banks;
};

static struct tcg2 *tcg2;
static bool looked;

bool tpm_present(void)
{
	struct tcg2_capability cap = { .size = sizeof(cap) };
	struct tcg2 *t;

	if (looked)
		return tcg2 != NULL;
	looked = true;
	if (BS->LocateProtocol(&tcg2_guid, NULL, (void **)&t) != EFI_SUCCESS)
		return false;
	if (t->get_capability(t, &cap) != EFI_SUCCESS || !cap.tpm_present) {
		log_debug("tpm: EFI_TCG2_PROTOCOL without a TPM present");
		return false;
	}
	tcg2 = t;
	return true;
}

/* The event: a UTF-16 description with its NUL, bare for EV_IPL, inside a
 * tagged event for EV_EVENT_TAG. */
static struct tcg2_event *make_event(const struct measure_event *m)
{
	size_t n = strlen(m->desc), dsize = (n + 1) * sizeof(CHAR16);
	size_t tag = m->type == TCG_EV_EVENT_TAG ? sizeof(struct tcg2_tagged_event) : 0;
	size_t size = sizeof(struct tcg2_event) + tag + dsize;
	struct tcg2_event *ev = plat_alloc(size);
	CHAR16 *w;

	if (!ev)
		return NULL;
	*ev = (struct tcg2_event){
		.size = (UINT32)size,
		.header = { sizeof(struct tcg2_event_header), TCG2_EVENT_HEADER_VERSION,
			    m->pcr, m->type } };
	if (tag) {
		struct tcg2_tagged_event *t = (struct tcg2_tagged_event *)ev->event;
		t->event_id = m->tag;
		t->event_size = (UINT32)dsize;
		w = (CHAR16 *)t->event;
	} else {
		w = (CHAR16 *)ev->event;
	}
	for (size_t i = 0; i < n; i++)
		w[i] = (unsigned char)m->desc[i];
	w[n] = 0;
	return ev;
}

static EFI_STATUS measure_one(const struct measure_event *m)
{
	struct tcg2_event *ev = make_event(m);
	EFI_STATUS st;

	if (!ev)
		return EFI_OUT_OF_RESOURCES;
	st = tcg2->hash_log_extend_event(tcg2, 0, (EFI_PHYSICAL_ADDRESS)(uintptr_t)m->data,
					 m->size, ev);
	plat_free(ev);
	if (EFI_ERROR(st))
		log_error("tpm: cannot measure %s into PCR %u (status 0x%llx)", m->desc,
			  m->pcr, (unsigned long long)st);
	else
		log_debug("tpm: measured %s (%zu bytes) into PCR %u", m->desc, m->size, m->pcr);
	return st;
}

void tpm_boot_prepare(struct tpm_boot *t, struct boot_scan *s,
		      const struct bls_entry *e, const struct loaded_entry *l,
		      bool cmdline_edited)
{
	*t = (struct tpm_boot){ 0 };
	if (!tpm_present())
		return;
	t->ready = measure_collect(s, e, l, cmdline_edited, &t->bufs, &t->plan) == 0;
}

void tpm_boot_measure(struct tpm_boot *t)
{
	uint32_t pcrs = 0;
	unsigned ok = 0;
	char list[64] = "";
	size_t n = 0;

	if (!t || !t->ready)
		return;
	for (unsigned i = 0; i < t->plan.n; i++) {
		if (EFI_ERROR(measure_one(&t->plan.ev[i])))
			continue;
		ok++;
		pcrs |= 1u << (t->plan.ev[i].pcr & 31);
	}
	for (unsigned p = 0; p < 32 && n < sizeof(list) - 4; p++)
		if (pcrs & (1u << p))
			n += (size_t)vq_snprintf(list + n, sizeof(list) - n, "%s%u",
						 n ? " " : "", p);
	log_info("tpm: measured %u of %u events into PCR %s", ok, t->plan.n,
		 n ? list : "(none)");
	t->ready = false;
}

void tpm_measure_initrds(const struct loaded_entry *l, const void *data)
{
	struct measure_input in = {
		.pe = &l->pe, .initrd = data, .initrd_size = l->initrd_size,
		.initrd_count = l->initrd_count, .initrd_sizes = l->initrd_sizes,
		.initrd_paths = l->initrd_paths };
	struct measure_plan plan;
	unsigned ok = 0;

	if (!tpm_present() || measure_plan_build(&in, &plan))
		return;
	for (unsigned i = 0; i < plan.n; i++)
		ok += !EFI_ERROR(measure_one(&plan.ev[i]));
	if (plan.n)
		log_info("tpm: measured %u of %u initrd events into PCR %u", ok, plan.n,
			 MEASURE_PCR_KERNEL_INITRD);
	measure_plan_free(&plan);
}

void tpm_boot_free(struct tpm_boot *t)
{
	measure_plan_free(&t->plan);
	measure_bufs_free(&t->bufs);
	t->ready = false;
}
