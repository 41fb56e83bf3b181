// SPDX-License-Identifier: Apache-2.0
// Nothing signed is taken from unsigned input (issue 12, part 4): the
// loaders read no max_entries or initial value from their ctx unless asked
// to (ctx_overrides, bpftool 7.7's loader), verify reports a loader that
// does, and a header's initial-value literals must be the signed ones.
#include <gtest/gtest.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "bpfsig/error.h"
#include "bpfsig/skel.h"
#include "bpfsig/verify.h"
#include "support/signer.h"
#include "support/support.h"

using namespace bpfsig;
using Json = nlohmann::json;

namespace {

const skel::Scheme kSchemes[] = {skel::Scheme::kLoaderHash, skel::Scheme::kLoadtime, skel::Scheme::kHornet,
                                 skel::Scheme::kHashChain};

test::TestSigner& keys() { return test::default_signer(); }

skel::SignedLoader sign_execcount(skel::Scheme scheme, bool ctx_overrides = false) {
  skel::SignOptions o;
  o.scheme = scheme;
  o.layout = skel::MatchLayout::kExcl;
  o.ctx_overrides = ctx_overrides;
  return skel::sign_object(test::examples_dir() + "/execcount.bpf.o", keys().cert.get(), keys().key.get(), o);
}

const skel::SignedMap& map_named(const std::vector<skel::SignedMap>& maps, const std::string& name) {
  for (const auto& m : maps)
    if (m.name == name) return m;
  throw std::runtime_error("no map " + name);
}

// Replaces the first occurrence of from (which must be there) with to.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("'" + from + "' is not in the text");
  return text.replace(at, from.size(), to);
}

Error error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  throw std::runtime_error("no error");
}

std::string bpftool77_header() { return test::read_text(test::shared_testdata() + "/bpftool-7.7/prog.lskel.h"); }

}  // namespace

TEST(SignedMaps, FollowTheLoaderIntoTheBlob) {
  for (skel::Scheme scheme : kSchemes) {
    SCOPED_TRACE(skel::scheme_name(scheme));
    skel::SignedLoader l = sign_execcount(scheme);
    std::vector<skel::SignedMap> maps = skel::signed_maps(l);
    ASSERT_EQ(maps.size(), l.map_names.size());
    const skel::SignedMap& counts = map_named(maps, "exec_counts");
    EXPECT_EQ(counts.type, 1u);  // BPF_MAP_TYPE_HASH
    EXPECT_EQ(counts.max_entries, 4096u);
    EXPECT_EQ(counts.key_size, 4u);
    EXPECT_EQ(counts.value_size, 8u);
    EXPECT_FALSE(counts.has_initial_value);
    const skel::SignedMap& data = map_named(maps, "data");
    ASSERT_TRUE(data.has_initial_value);
    EXPECT_EQ(data.initial_value, (Bytes{1, 0, 0, 0}));  // sample_every = 1
    EXPECT_EQ(Bytes(l.data.begin() + static_cast<long>(data.initial_value_offset),
                    l.data.begin() + static_cast<long>(data.initial_value_offset + 4)),
              data.initial_value);
  }
}

TEST(SignedMaps, AFakeBlobIsRefused) {
  skel::SignedLoader l = sign_execcount(skel::Scheme::kLoadtime);
  l.data.resize(16);  // the attrs are past the end now
  Error e = error_of([&] { skel::signed_maps(l); });
  EXPECT_EQ(e.kind(), "loader_metadata");
  EXPECT_EQ(e.err(), EBADMSG);
}

TEST(CtxOverrides, NoSchemeReadsSignedValuesFromTheCtxByDefault) {
  for (skel::Scheme scheme : kSchemes) {
    SCOPED_TRACE(skel::scheme_name(scheme));
    EXPECT_TRUE(skel::loader_ctx_overrides(sign_execcount(scheme)).empty());
  }
}

TEST(CtxOverrides, OptInGivesBpftool77sCtxReadsForTheMatchBlockSchemes) {
  for (skel::Scheme scheme : {skel::Scheme::kLoaderHash, skel::Scheme::kHashChain}) {
    SCOPED_TRACE(skel::scheme_name(scheme));
    skel::SignedLoader l = sign_execcount(scheme, true);
    std::vector<skel::CtxRead> reads = skel::loader_ctx_overrides(l);
    std::set<std::pair<std::string, std::string>> seen;
    for (const auto& r : reads) seen.insert({l.map_names.at(r.map_index), r.field});
    for (const auto& name : l.map_names) EXPECT_TRUE(seen.count({name, "max_entries"})) << name;
    EXPECT_TRUE(seen.count({"data", "initial_value"}));
  }
  for (skel::Scheme scheme : {skel::Scheme::kLoadtime, skel::Scheme::kHornet}) {
    Error e = error_of([&] { sign_execcount(scheme, true); });
    EXPECT_EQ(e.kind(), "bad_argument");
    EXPECT_EQ(e.err(), EINVAL);
  }
}

TEST(CtxOverrides, VerifyReportsThemAndStillVerifies) {
  skel::SignedLoader plain = sign_execcount(skel::Scheme::kLoaderHash);
  skel::SignedLoader overriding = sign_execcount(skel::Scheme::kLoaderHash, true);
  verify::Report a = verify::verify_loader(plain, keys().trust());
  verify::Report b = verify::verify_loader(overriding, keys().trust());
  EXPECT_EQ(a.err, 0) << a.message;
  EXPECT_EQ(b.err, 0) << b.message;
  EXPECT_TRUE(a.ctx_overrides.empty());
  EXPECT_FALSE(b.ctx_overrides.empty());
}

TEST(CtxOverrides, CliSignRefusesItForLoadtimeAndVerifyWarns) {
  test::TempDir d;
  const std::string key = keys().dir.file("key.pem"), cert = keys().cert_path();
  const std::string object = test::examples_dir() + "/execcount.bpf.o";
  auto refused = test::bpfsig_cmd({"sign", "-k", key, "-i", cert, "--scheme", "loadtime", "--ctx-overrides", "-o",
                                   d.file("x.bpfsig"), object});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("--ctx-overrides"), std::string::npos) << refused.err;
  for (bool overrides : {false, true}) {
    std::vector<std::string> args = {"sign", "-k", key, "-i", cert, "--scheme", "loader-hash", "--layout", "6.18",
                                     "-o", d.file("p.bpfsig"), object};
    if (overrides) args.insert(args.begin() + 1, "--ctx-overrides");
    auto signed_ = test::bpfsig_cmd(args);
    ASSERT_EQ(signed_.exit_code, 0) << signed_.err;
    auto human = test::bpfsig_cmd({"verify", "-i", cert, d.file("p.bpfsig")});
    EXPECT_EQ(human.exit_code, 0) << human.err;
    EXPECT_EQ(human.out.find("warning:") != std::string::npos, overrides) << human.out;
    auto json = test::bpfsig_cmd({"verify", "--json", "-i", cert, d.file("p.bpfsig")});
    ASSERT_EQ(json.exit_code, 0) << json.err;
    Json j = Json::parse(json.out);
    ASSERT_TRUE(j["ctx_overrides"].is_array());
    EXPECT_EQ(j["ctx_overrides"].empty(), !overrides);
    if (overrides) {
      EXPECT_EQ(j["ctx_overrides"][0]["field"], "max_entries");
    }
  }
}

// ---- header literals ------------------------------------------------------------

TEST(HeaderLiterals, BpfsigsLoadtimeHeaderReadsBackAndAnEditedLiteralFailsClosed) {
  test::TempDir d;
  skel::SignedLoader l = sign_execcount(skel::Scheme::kLoadtime);
  const std::string header = skel::render_header(l);
  test::write_text(d.file("ok.lskel.h"), header);
  skel::SignedLoader back = skel::read_signed_file(d.file("ok.lskel.h"));
  ASSERT_EQ(back.header_initial_values.size(), 2u);  // bss, data
  // sample_every = 1 is "\x01\0\0\0" in the .data literal; 7 is not what was signed.
  const std::string edited = replaced(header, "\\x01\\0\\0\\0\";", "\\x01\\0\\x07\\0\";");
  test::write_text(d.file("edited.lskel.h"), edited);
  Error e = error_of([&] { skel::read_signed_file(d.file("edited.lskel.h")); });
  EXPECT_EQ(e.kind(), "header_initial_value");
  EXPECT_EQ(e.err(), EBADMSG);
  EXPECT_NE(std::string(e.what()).find("map 'data'"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("offset 2"), std::string::npos) << e.what();
  // A longer literal differs where the signed value ends.
  test::write_text(d.file("longer.lskel.h"), replaced(header, "\\x01\\0\\0\\0\";", "\\x01\\0\\0\\0\\0\";"));
  e = error_of([&] { skel::read_signed_file(d.file("longer.lskel.h")); });
  EXPECT_NE(std::string(e.what()).find("offset 4"), std::string::npos) << e.what();
}

TEST(HeaderLiterals, AnInitialValueNotFromALiteralIsRefused) {
  skel::SignedLoader l = sign_execcount(skel::Scheme::kLoadtime);
  const std::string header = replaced(skel::render_header(l), "skel_prep_map_data((void *)data,", "skel_prep_map_data((void *)other,");
  Error e = error_of([&] { skel::parse_header(header, "h"); });
  EXPECT_EQ(e.kind(), "header_format");
}

TEST(HeaderLiterals, Bpftool77HeaderEditedLiteralFailsInVerifyAndInspect) {
  SKIP_UNLESS(test::missing_shared_testdata());
  test::TempDir d;
  const std::string cert = test::shared_testdata() + "/bpftool-7.7/cert.der";
  const std::string original = bpftool77_header();
  test::write_text(d.file("prog.lskel.h"), original);
  test::write_text(d.file("edited.lskel.h"), replaced(original, "\\x34\\x12\\xcd\\xab", "\\x34\\x12\\xcd\\xac"));
  for (const char* cmd : {"verify", "inspect"}) {
    SCOPED_TRACE(cmd);
    std::vector<std::string> ok_args = {cmd, d.file("prog.lskel.h")}, bad_args = {cmd, d.file("edited.lskel.h")};
    if (std::string(cmd) == "verify") {
      ok_args.insert(ok_args.begin() + 1, {"-i", cert});
      bad_args.insert(bad_args.begin() + 1, {"-i", cert});
    }
    auto ok = test::bpfsig_cmd(ok_args);
    EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
    auto bad = test::bpfsig_cmd(bad_args);
    EXPECT_NE(bad.exit_code, 0) << bad.out;
    EXPECT_NE(bad.err.find("map 'data'"), std::string::npos) << bad.err;
    EXPECT_NE(bad.err.find("offset 3"), std::string::npos) << bad.err;
    EXPECT_NE(bad.err.find("header_initial_value"), std::string::npos) << bad.err;
  }
}

TEST(HeaderLiterals, Bpftool77HeaderLiteralsAreTheSignedValues) {
  SKIP_UNLESS(test::missing_shared_testdata());
  skel::SignedLoader l = skel::parse_header(bpftool77_header(), "prog.lskel.h");
  ASSERT_EQ(l.header_initial_values.size(), 2u);
  EXPECT_EQ(l.header_initial_values[1].map, "data");
  EXPECT_EQ(l.header_initial_values[1].value, (Bytes{0x34, 0x12, 0xcd, 0xab}));
  EXPECT_NO_THROW(skel::check_header_initial_values(l, "prog.lskel.h"));
  const std::vector<skel::SignedMap> maps = skel::signed_maps(l);  // map_named returns a reference into it
  const skel::SignedMap& data = map_named(maps, "data");
  EXPECT_EQ(data.initial_value, (Bytes{0x34, 0x12, 0xcd, 0xab}));
}
