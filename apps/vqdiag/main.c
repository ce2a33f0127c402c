/* SPDX-License-Identifier: MIT */
/*
 * vqdiag: reports the virtio devices, their features and queues, self-tests
 * and benchmarks them. Run it from the firmware shell:
 *     vqdiag.efi [list|blk|gpu|bench] [--json]
 */
#include "apps/vqdiag/diag.h"
#include "lib/log.h"
#include "lib/plat.h"

static const char usage[] =
	"usage: vqdiag.efi [COMMAND] [--json] [--verbose]\n"
	"commands:\n"
	"  list     every virtio-pci device: transport, features, queues, config (default)\n"
	"  gpu      virtio-gpu scanouts, test pattern, update timings vs the firmware's GOP\n"
	"           [--hold N] keep the pattern N seconds; [--all-scanouts]\n"
	"  blk [PCI-ADDR] [--start=SECTOR] [--sectors=N] [--bounce]\n"
	"           read each virtio disk through the firmware and through vqboot,\n"
	"           compare; serial, sizes, partitions, filesystems, MB/s; every\n"
	"           LUN behind virtio-scsi controllers: vendor, product, capacity\n"
	"  bench [--size=MiB] [--rounds=N] [--bounce] [--scsi]\n"
	"           firmware versus vqboot read speed on the first virtio disk\n"
	"           (--scsi: the first disk behind a virtio-scsi controller)\n"
	"  --help   this text\n"
	"--json prints one JSON document between the lines\n"
	"  " VQDIAG_JSON_BEGIN "\n  " VQDIAG_JSON_END "\n";

struct diag_args {
	const char *command;
	bool command_set;
	bool json;
	struct diag_params params;
};

/* One line per command; each lives in efi/diag_<name>.c. */
static const struct diag_command commands[] = {
	{ "list", diag_list },
	{ "blk", diag_blk },
	{ "bench", diag_bench },
	{ "gpu", diag_gpu },
};

static const struct diag_command *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* Load options are "vqdiag.efi list --json" from the shell, or empty. */
static EFI_STATUS parse_args(char *opts, struct diag_args *ret)
{
	struct diag_args a = { .command = "list" };
	bool first = true;

	for (char *p = opts; p && *p;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		char *word = p;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = 0;
		bool is_program = first && strchr(word, '.');
		first = false;
		if (is_program)
			continue;
		if (!strcmp(word, "--json"))
			a.json = true;
		else if (!strcmp(word, "--verbose"))
			log_max_level = LOG_DEBUG;
		else if (!strcmp(word, "--help") || !strcmp(word, "-h"))
			a.command = "help";
		else if (word[0] != '-' && !a.command_set) {
			a.command = word;
			a.command_set = true;
		} else if (word[0] != '-' && a.params.argc < DIAG_MAX_ARGS)
			a.params.argv[a.params.argc++] = word;
		else if (word[0] == '-' && word[1] == '-' && a.params.argc < DIAG_MAX_ARGS)
			/* command options (--bounce, --sectors=N ...) */
			a.params.argv[a.params.argc++] = word;
		else {
			log_error("vqdiag: unknown option '%s'", word);
			return EFI_INVALID_PARAMETER;
		}
	}
	*ret = a;
	return EFI_SUCCESS;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	struct diag_args args;
	struct diag_out out;
	EFI_STATUS status;
	char *opts;

	efi_platform_init(image, st);
	opts = efi_load_options_ascii(image);
	/* args points into opts: free it last. */
	status = parse_args(opts, &args);
	if (EFI_ERROR(status) || !strcmp(args.command, "help")) {
		con_puts(usage);
		plat_free(opts);
		return status;
	}
	const struct diag_command *cmd = find_command(args.command);
	if (!cmd) {
		log_error("vqdiag: unknown command '%s'", args.command);
		con_puts(usage);
		plat_free(opts);
		return EFI_INVALID_PARAMETER;
	}
	diag_out_begin(&out, args.json, args.command);
	status = cmd->run(&out, &args.params);
	diag_out_end(&out);
	con_printf("vqdiag: %s done (%s)\n", args.command,
		   EFI_ERROR(status) ? "failed" : "ok");
	plat_free(opts);
	return status;
}
