/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A program written for bpftool 7.8's execcount light-skeleton header
 * (`bpftool gen skeleton -L -S`): its data-section pointers (initial values
 * readable after __open), __load with keyring_id, __attach/__detach, __assert.
 * One copy, used by the host test (tests/skel/test_bpftool78.cpp, "open"
 * only) and by the VM suite (scripts/vm/run-suite.sh builds it against
 * bpfsig's and bpftool's headers; tests/qemu/runner runs it: full load and
 * attach on kernels that check signatures).
 *
 * With "open" it stops before loading (no root or signature-checking kernel
 * needed). A failed load or attach prints the skeleton's negative errno, so
 * that the kernel's answer can be compared without tracing the program.
 * libbpf's skel_internal.h uses errno without including <errno.h>: programs
 * for bpftool's headers include it themselves.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "execcount.lskel.h"

int main(int argc, char **argv)
{
	struct execcount_bpf *skel = execcount_bpf__open();
	int err;

	if (!skel)
		return 1;
	execcount_bpf__assert(skel);
	printf("sample_every=%u total_execs=%llu\n", skel->data->sample_every,
	       (unsigned long long)skel->bss->total_execs);
	if (argc > 1 && strcmp(argv[1], "open") == 0) {
		execcount_bpf__destroy(skel);
		return 0;
	}
	skel->keyring_id = -3; /* KEY_SPEC_SESSION_KEYRING */
	err = execcount_bpf__load(skel);
	if (err) {
		printf("load failed: %d\n", err);
	} else {
		err = execcount_bpf__attach(skel);
		if (err)
			printf("attach failed: %d\n", err);
	}
	if (!err) {
		printf("loaded: total_execs=%llu\n", (unsigned long long)skel->bss->total_execs);
		execcount_bpf__detach(skel);
	}
	execcount_bpf__destroy(skel);
	return err ? 2 : 0;
}
