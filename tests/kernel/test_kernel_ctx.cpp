// SPDX-License-Identifier: Apache-2.0
// A host that rewrites the light skeleton's ctx (map max_entries, initial
// values) before the loader runs, on the running kernel: every scheme's
// loader creates its maps as signed; only a ctx_overrides loader (bpftool
// 7.7's) takes the host's values. The loader runs unsigned (this kernel
// checks no signatures): what it does with its ctx is the same either way.
#include <gtest/gtest.h>

#include <algorithm>

#include "bpfsig/skel.h"
#include "bpfsig/sys.h"
#include "support/kernel_features.h"
#include "support/signer.h"
#include "support/support.h"

using namespace bpfsig;

namespace {

constexpr uint32_t kRewrittenMaxEntries = 17;
const Bytes kRewrittenValue = {7, 0, 0, 0};  // execcount's sample_every, signed as 1

struct CreatedMap {
  uint32_t max_entries = 0;
  Bytes value;  // key 0, for a map the loader fills
};

size_t index_of(const skel::SignedLoader& l, const std::string& map) {
  return static_cast<size_t>(std::find(l.map_names.begin(), l.map_names.end(), map) - l.map_names.begin());
}

// Loads with a rewritten ctx and reads back exec_counts' max_entries and data's value.
std::pair<CreatedMap, CreatedMap> load_with_rewritten_ctx(const skel::SignedLoader& l) {
  sys::LoadOptions o;
  o.send_signature = false;
  const size_t counts = index_of(l, "exec_counts"), data = index_of(l, "data");
  o.ctx_edits.max_entries[counts] = kRewrittenMaxEntries;
  o.ctx_edits.initial_values[data] = kRewrittenValue;
  sys::LoadResult r = sys::load(l, o);
  std::pair<CreatedMap, CreatedMap> out;
  out.first.max_entries = sys::map_info(r.map_fds.at(counts)).max_entries;
  out.second.max_entries = sys::map_info(r.map_fds.at(data)).max_entries;
  const uint8_t key[4] = {};
  sys::map_lookup(r.map_fds.at(data), ByteView(key, 4), out.second.value);
  sys::close_fds(r);
  return out;
}

skel::SignedLoader sign_execcount(skel::Scheme scheme, bool ctx_overrides) {
  skel::SignOptions o;
  o.scheme = scheme;
  o.layout = skel::MatchLayout::k618;  // loader-hash, hash-chain: no map->excl read, which 6.18 has
  o.ctx_overrides = ctx_overrides;
  test::TestSigner& s = test::default_signer();
  return skel::sign_object(test::examples_dir() + "/execcount.bpf.o", s.cert.get(), s.key.get(), o);
}

}  // namespace

TEST(KernelCtx, EverySchemesLoaderCreatesItsMapsAsSigned) {
  SKIP_UNLESS(test::missing_excl_maps());
  for (skel::Scheme scheme :
       {skel::Scheme::kLoaderHash, skel::Scheme::kLoadtime, skel::Scheme::kHornet, skel::Scheme::kHashChain}) {
    SCOPED_TRACE(skel::scheme_name(scheme));
    skel::SignedLoader l = sign_execcount(scheme, false);
    const std::vector<skel::SignedMap> signed_maps = skel::signed_maps(l);
    const skel::SignedMap& counts = signed_maps.at(index_of(l, "exec_counts"));
    const skel::SignedMap& data = signed_maps.at(index_of(l, "data"));
    ASSERT_EQ(counts.max_entries, 4096u);
    ASSERT_EQ(data.initial_value, (Bytes{1, 0, 0, 0}));
    auto [created_counts, created_data] = load_with_rewritten_ctx(l);
    EXPECT_EQ(created_counts.max_entries, counts.max_entries);
    EXPECT_EQ(created_data.value, data.initial_value);
  }
}

// The same test catches a loader that does take the ctx: bpftool 7.7's.
TEST(KernelCtx, ACtxOverridesLoaderTakesTheHostsValues) {
  SKIP_UNLESS(test::missing_excl_maps());
  for (skel::Scheme scheme : {skel::Scheme::kLoaderHash, skel::Scheme::kHashChain}) {
    SCOPED_TRACE(skel::scheme_name(scheme));
    auto [created_counts, created_data] = load_with_rewritten_ctx(sign_execcount(scheme, true));
    EXPECT_EQ(created_counts.max_entries, kRewrittenMaxEntries);
    EXPECT_EQ(created_data.value, kRewrittenValue);
  }
}
