// SPDX-License-Identifier: Apache-2.0
// loadtime and hash-chain headers from `bpfsig sign --header`, compiled by a
// C compiler against bpfsig's skel_internal.h, loaded from a C program.
#include <gtest/gtest.h>

#include <cerrno>

#include "bpfsig/skel.h"
#include "support/kernel_features.h"
#include "support/signer.h"
#include "support/support.h"

using namespace bpfsig;

TEST(KernelSchemesHeader, CompilesAndLoadsUnsignedAndTheSignedLoadFailsAsThisKernelSays) {
  SKIP_UNLESS(test::missing_excl_maps());
  struct Case {
    skel::Scheme scheme;
    int signed_exit;  // what the signed load answers on a kernel without PKCS#7 support
  };
  for (const Case& c : {Case{skel::Scheme::kLoadtime, EOPNOTSUPP}, Case{skel::Scheme::kHashChain, E2BIG}}) {
    SCOPED_TRACE(skel::scheme_name(c.scheme));
    test::TempDir d;
    skel::SignOptions o;
    o.scheme = c.scheme;
    test::TestSigner& s = test::default_signer();
    skel::SignedLoader l =
        skel::sign_object(test::examples_dir() + "/execcount.bpf.o", s.cert.get(), s.key.get(), o);
    test::write_text(d.file("execcount.lskel.h"), skel::render_header(l));
    test::write_text(d.file("main.c"), R"(#include <stdio.h>
#include "execcount.lskel.h"
int main(void)
{
	struct execcount_bpf *skel = execcount_bpf__open();
	if (!skel)
		return 10;
	int err = execcount_bpf__load(skel);
	printf("load=%d\n", err);
	execcount_bpf__destroy(skel);
	return err < 0 ? -err : 0;
}
)");
    for (bool kernel_sig : {true, false}) {
      std::vector<std::string> cc = {"cc", "-std=gnu11", "-Wall", "-Werror", "-I", test::source_dir() + "/include",
                                     d.file("main.c"), "-o", d.file("main")};
      if (!kernel_sig) cc.insert(cc.begin() + 1, "-DBPFSIG_SKEL_NO_KERNEL_SIG");
      // A loadtime header includes <bpf/skel_internal.h> as bpftool 7.8's
      // does; bpfsig's, included first, stands in for it.
      if (c.scheme == skel::Scheme::kLoadtime) cc.insert(cc.begin() + 1, {"-include", "bpfsig/skel_internal.h"});
      auto compiled = test::run_command(cc);
      ASSERT_EQ(compiled.exit_code, 0) << compiled.err;
      auto r = test::run_command({d.file("main")});
      if (!kernel_sig) {
        EXPECT_EQ(r.exit_code, 0) << r.out << r.err;  // unsigned: no fd_array_cnt, no signature_maps
      } else if (!test::kernel_features().signed_load) {
        // hash-chain: the 180-byte attr's signature_maps is past 6.18's union
        // (E2BIG, before the signature is looked at); loadtime: EOPNOTSUPP.
        EXPECT_EQ(r.exit_code, c.signed_exit) << r.out << r.err;
      } else {
        EXPECT_NE(r.exit_code, 0) << "a 6.18 kernel with PKCS#7 rejects both: " << r.out;
      }
    }
  }
}
