/* SPDX-License-Identifier: MIT */
/* The measured-boot plan: which data goes into which PCR, as which event. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "boot/measure.h"
#include "lib/err.h"
#include "tests/support/host_platform.h"

static struct pe_info linux_pe(const char *version)
{
	struct pe_info pe = { .is_pe = true, .is_linux = true, .supports_initrd_lf2 = true };

	strncpy(pe.linux_version, version, sizeof(pe.linux_version) - 1);
	return pe;
}

static bool stub_measures(const char *version)
{
	struct pe_info pe = linux_pe(version);

	return measure_stub_measures_initrd(&pe);
}

static void test_stub_versions(void **state)
{
	assert_true(stub_measures("6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP"));
	assert_true(stub_measures("6.12.9"));
	assert_true(stub_measures("7.0.0"));
	assert_true(stub_measures("10.2"));
	assert_false(stub_measures("6.0.19-amd64"));
	assert_false(stub_measures("5.10.0-28-amd64"));
	assert_false(stub_measures(""));
	assert_false(stub_measures("6"));
	assert_false(stub_measures("6.x"));
	assert_false(stub_measures("v6.1"));
	assert_false(stub_measures("99999999999999999999.1"));

	struct pe_info pe = linux_pe("6.1.0");
	pe.supports_initrd_lf2 = false;  /* it would not ask for the initrd */
	assert_false(measure_stub_measures_initrd(&pe));
	pe = linux_pe("6.1.0");
	pe.is_linux = false;             /* an EFI application */
	assert_false(measure_stub_measures_initrd(&pe));
	assert_false(measure_stub_measures_initrd(NULL));
}

static const char conf[] = "timeout 0\n";
static const char ent[] = "title Debian\nlinux /vmlinuz\n";
static const char initrd_paths[BLS_INITRD_MAX][BLS_PATH_MAX] = { "/a.img", "/b.img" };

static struct measure_input input(const struct pe_info *pe, const char *cmdline)
{
	return (struct measure_input){
		.cmdline = cmdline, .conf_path = "/loader/loader.conf", .conf = conf,
		.conf_size = sizeof(conf) - 1, .entry_path = "/loader/entries/debian.conf",
		.entry = ent, .entry_size = sizeof(ent) - 1, .pe = pe };
}

static void assert_event(const struct measure_event *e, uint32_t pcr, uint32_t type,
			 uint32_t tag, const char *desc)
{
	assert_int_equal(e->pcr, pcr);
	assert_int_equal(e->type, type);
	assert_int_equal(e->tag, tag);
	assert_string_equal(e->desc, desc);
}

static void test_plan(void **state)
{
	struct pe_info pe = linux_pe("6.1.0");
	struct measure_input in = input(&pe, "console=ttyS0 quiet");
	struct measure_plan p;

	assert_int_equal(measure_plan_build(&in, &p), 0);
	assert_int_equal(p.n, 3);
	assert_event(&p.ev[0], 5, TCG_EV_EVENT_TAG, 0xf5bc582a, "loader.conf");
	assert_ptr_equal(p.ev[0].data, conf);
	assert_int_equal(p.ev[0].size, 10);
	assert_event(&p.ev[1], 5, TCG_EV_EVENT_TAG, MEASURE_TAG_ENTRY,
		     "/loader/entries/debian.conf");
	assert_ptr_equal(p.ev[1].data, ent);
	/* The command line as LoadOptions gets it: UTF-16, NUL included. */
	assert_event(&p.ev[2], 12, TCG_EV_IPL, 0, "console=ttyS0 quiet");
	assert_int_equal(p.ev[2].size, (19 + 1) * 2);
	const uint16_t *w = p.ev[2].data;
	assert_int_equal(w[0], 'c');
	assert_int_equal(w[18], 't');
	assert_int_equal(w[19], 0);
	measure_plan_free(&p);
	assert_null(p.cmdline16);
}

static void test_plan_edited(void **state)
{
	struct pe_info pe = linux_pe("6.1.0");
	struct measure_input in = input(&pe, "quiet vq.edited=1");
	struct measure_plan p;

	in.cmdline_edited = true;
	assert_int_equal(measure_plan_build(&in, &p), 0);
	assert_int_equal(p.n, 4);
	assert_event(&p.ev[2], 12, TCG_EV_EVENT_TAG, MEASURE_TAG_CMDLINE_EDITED,
		     "command line edited");
	assert_memory_equal(p.ev[2].data, "command line edited", p.ev[2].size);
	assert_event(&p.ev[3], 12, TCG_EV_IPL, 0, "quiet vq.edited=1");
	measure_plan_free(&p);
}

static void test_plan_without_files_or_cmdline(void **state)
{
	struct pe_info pe = linux_pe("6.1.0");
	struct measure_input in = { .pe = &pe, .cmdline = "" };
	struct measure_plan p;

	assert_int_equal(measure_plan_build(&in, &p), 0);
	assert_int_equal(p.n, 0);
	in.cmdline = NULL;
	assert_int_equal(measure_plan_build(&in, &p), 0);
	assert_int_equal(p.n, 0);
	measure_plan_free(&p);
}

static void test_initrds(void **state)
{
	/* Two initrds of 5 and 3 bytes, each padded to 4 in the handover. */
	uint8_t buf[12] = "aaaaa\0\0\0bbb";
	uint64_t sizes[2] = { 5, 3 };
	struct pe_info old = linux_pe("5.10.0-28-amd64");
	struct pe_info new = linux_pe("6.1.0-57-amd64");
	struct measure_input in = input(&old, "");
	struct measure_plan p;

	in.initrd = buf;
	in.initrd_size = sizeof(buf);
	in.initrd_count = 2;
	in.initrd_sizes = sizes;
	in.initrd_paths = initrd_paths;
	/* A kernel whose stub does not measure them: vqboot does, each one. */
	assert_int_equal(measure_plan_build(&in, &p), 0);
	assert_int_equal(p.n, 4);
	assert_event(&p.ev[2], 9, TCG_EV_EVENT_TAG, MEASURE_TAG_INITRD, "/a.img");
	assert_ptr_equal(p.ev[2].data, buf);
	assert_int_equal(p.ev[2].size, 5);
	assert_event(&p.ev[3], 9, TCG_EV_EVENT_TAG, MEASURE_TAG_INITRD, "/b.img");
	assert_ptr_equal(p.ev[3].data, buf + 8);
	assert_int_equal(p.ev[3].size, 3);
	measure_plan_free(&p);
	/* Linux 6.1 measures the LoadFile2 initrd into PCR 9 itself. */
	in.pe = &new;
	assert_int_equal(measure_plan_build(&in, &p), 0);
	assert_int_equal(p.n, 2);
	measure_plan_free(&p);
	/* Sizes that do not fit the buffer are refused, not read past. */
	in.pe = &old;
	sizes[1] = 5;
	host_log_clear();
	assert_int_equal(measure_plan_build(&in, &p), -VQ_ERANGE);
	assert_true(host_log_contains("2 initrds do not fit 12 bytes"));
	in.initrd_count = BLS_INITRD_MAX + 1;
	assert_int_equal(measure_plan_build(&in, &p), -VQ_ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stub_versions),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_plan_edited),
		cmocka_unit_test(test_plan_without_files_or_cmdline),
		cmocka_unit_test(test_initrds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
