// SPDX-License-Identifier: Apache-2.0
// The skel module: loader generation, the hash-match block, bundles, headers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <map>

#include "bpfsig/crypto.h"
#include "bpfsig/error.h"
#include "bpfsig/isa.h"
#include "bpfsig/skel.h"
#include "skel/genloader.h"
#include "skel/internal.h"
#include "skel/matchblock.h"
#include "support/sign_options.h"
#include "support/signer.h"
#include "support/support.h"

using namespace bpfsig;
using namespace bpfsig::skel;

namespace {

std::string example(const std::string& name) { return test::examples_dir() + "/" + name + ".bpf.o"; }
std::string bpftool_dir() { return test::shared_testdata() + "/bpftool-7.7"; }

test::TestSigner& signer() { return test::default_signer(); }

// Every field that the bundle and header formats carry.
void expect_same_loader(const SignedLoader& a, const SignedLoader& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.insns, b.insns);
  EXPECT_EQ(a.data, b.data);
  EXPECT_EQ(a.signature, b.signature);
  EXPECT_EQ(a.excl_hash, b.excl_hash);
  EXPECT_EQ(a.map_names, b.map_names);
  EXPECT_EQ(a.prog_names, b.prog_names);
}

SignedLoader sign_example(const std::string& name, MatchLayout layout = MatchLayout::kExcl) {
  SignOptions o = test::loader_hash_options(layout, MismatchTarget::kCleanup);
  return sign_object(example(name), signer().cert.get(), signer().key.get(), o);
}

SignedLoader bpftool_header(const std::string& file) {
  std::string text = test::read_text(bpftool_dir() + "/" + file);
  return parse_header(text, file);
}

int expect_error(const std::function<void()>& f, const std::string& kind) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    return e.err();
  }
  ADD_FAILURE() << "no error, expected " << kind;
  return 0;
}

}  // namespace

TEST(GenLoader, NamesFollowBpftool) {
  EXPECT_EQ(skeleton_name_for("/a/b/prog.bpf.o"), "prog_bpf");
  EXPECT_EQ(skeleton_name_for("x-y.o"), "x_y");
  EXPECT_EQ(map_identifier("prog.bss", true), "bss");
  EXPECT_EQ(map_identifier("multimap.rodata", true), "rodata");
  EXPECT_EQ(map_identifier("xdp.rodata.str1.1", true), "rodata_str1_1");
  EXPECT_EQ(map_identifier("counts", false), "counts");
}

TEST(GenLoader, NamesAreAlwaysCIdentifiers) {
  // bpftool would write `struct 1abc_bpf`; the leading '_' makes it compile.
  EXPECT_EQ(skeleton_name_for("dir/1abc.bpf.o"), "_1abc_bpf");
  EXPECT_EQ(skeleton_name_for("int.o"), "_int");
  // get_obj_name() keeps 63 characters of the file name before it strips ".o".
  const std::string longest(70, 'a');
  EXPECT_EQ(skeleton_name_for(longest + ".o"), std::string(63, 'a'));
  EXPECT_EQ(skeleton_name_for(std::string(61, 'b') + ".o"), std::string(61, 'b'));
  for (const char* ok : {"a", "_1", "prog_bpf", "A9_"}) EXPECT_TRUE(is_c_identifier(ok)) << ok;
  for (const char* bad : {"", "1a", "a-b", "a b", "int", "struct", "_Bool", "a.b"}) EXPECT_FALSE(is_c_identifier(bad)) << bad;
}

TEST(GenLoader, SignNameMustBeACIdentifier) {
  SignOptions o;
  o.name = "9lives";
  EXPECT_EQ(expect_error([&] { sign_object(example("execcount"), signer().cert.get(), signer().key.get(), o); },
                         "skeleton_name"),
            EINVAL);
  o.name = "renamed";
  EXPECT_EQ(sign_object(example("execcount"), signer().cert.get(), signer().key.get(), o).name, "renamed");
}

TEST(GenLoader, ExamplesGenerateLoaders) {
  GeneratedLoader g = generate_loader(example("multimap"));
  EXPECT_EQ(g.name, "multimap_bpf");
  EXPECT_EQ(g.prog_names, (std::vector<std::string>{"on_enter", "on_exit"}));
  EXPECT_EQ(g.map_names, (std::vector<std::string>{"start_ts", "histogram", "slow_events", "dropped", "rodata"}));
  EXPECT_EQ(g.insns.size() % 8, 0u);
  EXPECT_GT(g.data.size(), 0u);
}

TEST(GenLoader, RejectsNonObjects) {
  test::TempDir d;
  test::write_text(d.file("junk.o"), "this is not an ELF file");
  EXPECT_NE(expect_error([&] { generate_loader(d.file("junk.o")); }, "bpf_object"), 0);
  // The object is read by the one input reader: a missing file is "io" ENOENT, as for every input.
  EXPECT_EQ(expect_error([&] { generate_loader(d.file("missing.o")); }, "io"), ENOENT);
}

// libbpf 1.1's loader for the object bpftool 7.7 signed is the same size as
// bpftool's once the 28-instruction block is in: the layouts agree.
// An object libbpf refuses: built here with clang -target bpf from a program
// whose SEC name names no program type.
TEST(GenLoader, LibbpfsReasonAndARealErrnoForAnObjectItRefuses) {
  test::TempDir d;
  SKIP_UNLESS(test::compile_bpf_c(d, "bad",
                                  "__attribute__((section(\"socket/tail\"), used)) int tail_1(void *ctx) { return 0; }\n"
                                  "char LICENSE[] __attribute__((section(\"license\"), used)) = \"GPL\";\n"));
  try {
    generate_loader(d.file("bad.bpf.o"));
    FAIL() << "libbpf accepted a program without a type";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), "bpf_object");
    EXPECT_LT(e.err(), 4000) << "a libbpf code leaked out as an errno: " << e.what();
    EXPECT_NE(std::string(e.what()).find("tail_1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("socket/tail"), std::string::npos) << e.what();
  }
}

TEST(GenLoader, ADirectoryIsEisdirAndJunkIsNoLibbpfCode) {
  test::TempDir d;
  EXPECT_EQ(expect_error([&] { generate_loader(d.path()); }, "io"), EISDIR);
  test::write_text(d.file("junk.o"), "this is not an ELF file");
  int err = expect_error([&] { generate_loader(d.file("junk.o")); }, "bpf_object");
  EXPECT_LT(err, 4000);
  EXPECT_EQ(expect_error([&] { generate_loader(d.file("missing.o")); }, "io"), ENOENT);
}

TEST(MatchBlock, SameLayoutAsBpftool77) {
  SKIP_UNLESS(test::missing_shared_testdata());
  SignOptions o = test::loader_hash_options(MatchLayout::k618, MismatchTarget::kCleanup);
  o.ctx_overrides = true;  // bpftool 7.7's loader reads max_entries and initial values from its ctx
  SignedLoader ours = sign_object(bpftool_dir() + "/prog.bpf.o", signer().cert.get(), signer().key.get(), o);
  SignedLoader theirs = bpftool_header("prog.lskel.h");
  ASSERT_EQ(ours.insns.size(), theirs.insns.size());
  ASSERT_EQ(ours.data, theirs.data) << "gen_loader metadata differs from bpftool 7.7's";
  auto a = isa::decode(ours.insns), b = isa::decode(theirs.insns);
  MatchBlockInfo ia = read_match_block(a), ib = read_match_block(b);
  ASSERT_TRUE(ia.found && ia.shape_error.empty()) << ia.shape_error;
  ASSERT_TRUE(ib.found && ib.shape_error.empty()) << ib.shape_error;
  EXPECT_EQ(ia.start_pc, 36u);
  EXPECT_EQ(ib.start_pc, 36u);
  EXPECT_EQ(ia.digest, ib.digest);
  EXPECT_EQ(ia.target, MismatchTarget::kCleanup);
  EXPECT_EQ(ib.target, MismatchTarget::kCleanupPlusOne);
  // Instruction for instruction, the only differences are the four mismatch
  // jumps, each one instruction shorter in ours.
  size_t differing = 0;
  for (size_t pc = 0; pc < a.size(); ++pc) {
    if (a[pc] == b[pc]) continue;
    ++differing;
    EXPECT_EQ(a[pc].code, b[pc].code) << "pc " << pc;
    EXPECT_EQ(a[pc].off + 1, b[pc].off) << "pc " << pc;
  }
  EXPECT_EQ(differing, 4u);
}

// loader-hash's default block (libbpf 1.7's, jump targets included): with
// the ctx reads asked for, the loader is bpftool 7.7's byte for byte.
TEST(MatchBlock, ReproducesBpftool77ByteForByte) {
  SKIP_UNLESS(test::missing_shared_testdata());
  SignOptions o;
  o.scheme = Scheme::kLoaderHash;
  o.ctx_overrides = true;  // the default block is bpftool 7.7's; the ctx reads are opt-in
  SignedLoader ours = sign_object(bpftool_dir() + "/prog.bpf.o", signer().cert.get(), signer().key.get(), o);
  SignedLoader theirs = bpftool_header("prog.lskel.h");
  ours.signature = theirs.signature;  // a different key signed it
  expect_same_loader(ours, theirs);
}

// Without ctx_overrides the loader is no longer bpftool 7.7's: it lacks the
// ctx reads (max_entries of every map, initial_value of every filled one),
// and its metadata is the same.
TEST(MatchBlock, WithoutCtxOverridesTheLoaderReadsNothingSignedFromItsCtx) {
  SKIP_UNLESS(test::missing_shared_testdata());
  SignOptions o;
  o.scheme = Scheme::kLoaderHash;  // the default block: 6.18, cleanup+1
  SignedLoader ours = sign_object(bpftool_dir() + "/prog.bpf.o", signer().cert.get(), signer().key.get(), o);
  SignedLoader theirs = bpftool_header("prog.lskel.h");
  EXPECT_EQ(ours.data, theirs.data);
  EXPECT_LT(ours.insns.size(), theirs.insns.size());
  EXPECT_TRUE(loader_ctx_overrides(ours).empty());
  EXPECT_FALSE(loader_ctx_overrides(theirs).empty());
}

// Issue 12: what bpftool 7.8 signs by default, and bpftool 7.7's block for
// the schemes that have one.
TEST(SignOptions, DefaultsAreLoadtimeAndBpftool77sBlock) {
  const SignOptions o;
  EXPECT_EQ(o.scheme, Scheme::kLoadtime);
  EXPECT_EQ(o.layout, MatchLayout::k618);
  EXPECT_EQ(o.mismatch_target, MismatchTarget::kCleanupPlusOne);
  SignedLoader l = sign_object(example("execcount"), signer().cert.get(), signer().key.get(), o);
  EXPECT_EQ(l.scheme, Scheme::kLoadtime);
  EXPECT_FALSE(read_match_block(isa::decode(l.insns)).found) << "a loadtime loader has no hash-match block";
  for (Scheme scheme : {Scheme::kLoaderHash, Scheme::kHashChain}) {
    SignOptions with_block;
    with_block.scheme = scheme;
    MatchBlockInfo info = read_match_block(
        isa::decode(sign_object(example("execcount"), signer().cert.get(), signer().key.get(), with_block).insns));
    ASSERT_TRUE(info.found && info.shape_error.empty()) << info.shape_error;
    EXPECT_EQ(info.layout, MatchLayout::k618);
    EXPECT_EQ(info.length, 28u);
    EXPECT_EQ(info.target, MismatchTarget::kCleanupPlusOne);
  }
}

TEST(MatchBlock, BothLayoutsRoundTrip) {
  for (MatchLayout layout : {MatchLayout::k618, MatchLayout::kExcl}) {
    SignedLoader l = sign_example("execcount", layout);
    auto prog = isa::decode(l.insns);
    MatchBlockInfo info = read_match_block(prog);
    ASSERT_TRUE(info.found);
    ASSERT_EQ(info.shape_error, "");
    EXPECT_EQ(info.layout, layout);
    EXPECT_EQ(info.length, static_cast<size_t>(layout));
    EXPECT_EQ(info.target, MismatchTarget::kCleanup);
    EXPECT_EQ(info.digest, crypto::sha256_padded8(l.data));
    EXPECT_NO_THROW(isa::validate(prog));
  }
}

TEST(MatchBlock, FrameOfAPlainLoader) {
  GeneratedLoader g = generate_loader(example("xdpfilter"));
  auto prog = isa::decode(g.insns);
  LoaderFrame f = find_loader_frame(prog);
  EXPECT_EQ(f.ja_pc, 6u);
  EXPECT_EQ(f.cleanup_pc, 7u);
  EXPECT_GT(f.body_pc, f.cleanup_pc);
  EXPECT_FALSE(read_match_block(prog).found);
}

TEST(MatchBlock, InsertionKeepsEveryJumpOnItsInstruction) {
  GeneratedLoader g = generate_loader(example("multimap"));
  auto before = isa::decode(g.insns);
  auto after = before;
  size_t pos = insert_match_block(after, MatchLayout::kExcl, crypto::sha256_padded8(g.data));
  const size_t k = static_cast<size_t>(MatchLayout::kExcl);
  ASSERT_EQ(after.size(), before.size() + k);
  auto moved = [&](size_t pc) { return pc < pos ? pc : pc + k; };
  for (size_t pc = 0; pc < before.size(); ++pc) {
    auto t = isa::relative_target(before, pc);
    if (!t) continue;
    auto t2 = isa::relative_target(after, moved(pc));
    ASSERT_TRUE(t2.has_value());
    if (static_cast<size_t>(*t) == pos)
      EXPECT_EQ(*t2, static_cast<int64_t>(pos)) << "jump to the insertion point must run the block (pc " << pc << ")";
    else
      EXPECT_EQ(*t2, static_cast<int64_t>(moved(static_cast<size_t>(*t)))) << "pc " << pc;
  }
}

TEST(MatchBlock, ShapeDeviationsAreNamed) {
  SignedLoader l = sign_example("execcount", MatchLayout::k618);
  auto prog = isa::decode(l.insns);
  MatchBlockInfo good = read_match_block(prog);
  // Change the loaded offset of the second word: map->sha + 8 -> + 16.
  auto bad = prog;
  bad[good.start_pc + 7 + 2].off = 16;
  MatchBlockInfo info = read_match_block(bad);
  EXPECT_TRUE(info.found);
  EXPECT_NE(info.shape_error.find("insn " + std::to_string(good.start_pc + 9)), std::string::npos) << info.shape_error;
  // A mismatch jump that lands elsewhere.
  bad = prog;
  bad[good.start_pc + 6].off -= 3;
  EXPECT_NE(read_match_block(bad).shape_error, "");
  // jne turned into jeq: the check would pass on mismatch.
  bad = prog;
  bad[good.start_pc + 6].code = isa::kClassJmp | isa::kJmpJeq | isa::kSrcX;
  EXPECT_NE(read_match_block(bad).shape_error, "");
}

TEST(Bundle, RoundTripsExactly) {
  SignedLoader l = sign_example("multimap");
  Bytes b = encode_bundle(l);
  SignedLoader back = decode_bundle(b, "mem");
  expect_same_loader(back, l);
  EXPECT_EQ(back.signer_cert, l.signer_cert);
  EXPECT_EQ(encode_bundle(back), b);
}

TEST(Bundle, RejectsWhatItCannotRead) {
  Bytes good = encode_bundle(sign_example("execcount"));
  auto decode = [](Bytes b) { decode_bundle(b, "test.bpfsig"); };
  Bytes b = good;
  b[8] = 1;  // version 1: before the seal
  EXPECT_EQ(expect_error([&] { decode(b); }, "bundle_version"), EINVAL);
  b[8] = 3;
  EXPECT_EQ(expect_error([&] { decode(b); }, "bundle_version"), EINVAL);
  b = good;
  b[10] = 9;  // scheme 9
  EXPECT_EQ(expect_error([&] { decode(b); }, "unknown_scheme"), EINVAL);
  b = good;
  b[1] = 'X';
  EXPECT_EQ(expect_error([&] { decode(b); }, "bundle_format"), EBADMSG);
  b.assign(good.begin(), good.begin() + static_cast<long>(good.size() / 2));
  EXPECT_EQ(expect_error([&] { decode(b); }, "bundle_format"), EBADMSG);
  b = good;
  b.push_back(0);
  EXPECT_EQ(expect_error([&] { decode(b); }, "bundle_format"), EBADMSG);
  EXPECT_EQ(expect_error([&] { decode(Bytes{}); }, "bundle_format"), EBADMSG);
  // Every truncation fails cleanly.
  for (size_t n = 0; n < good.size(); n += 7) {
    Bytes cut(good.begin(), good.begin() + static_cast<long>(n));
    EXPECT_THROW(decode(cut), Error) << n;
  }
}

namespace {

// What decoding did: "ok", or the error's kind and message.
std::string decode_outcome(const std::function<void()>& decode) {
  try {
    decode();
  } catch (const Error& e) {
    return e.kind() + ": " + e.what();
  }
  return "ok";
}

// A bundle over 1 MiB, which read_signed_input decodes from its file.
Bytes large_bundle() {
  SignedLoader l = sign_example("execcount");
  l.data = test::patterned(2u << 20);
  return encode_bundle(l);
}

}  // namespace

namespace {

// The offset of each section header of an encoded bundle, by type.
std::map<uint32_t, size_t> section_offsets(const Bytes& b) {
  std::map<uint32_t, size_t> at;
  size_t off = 24;
  for (uint32_t i = 0, n = load_le32(&b[12]); i < n; ++i) {
    at[load_le32(&b[off])] = off;
    off += 8 + ((load_le32(&b[off + 4]) + 7) & ~size_t{7});
  }
  return at;
}

size_t section_size(const Bytes& b, size_t at) { return 8 + ((load_le32(&b[at + 4]) + 7) & ~size_t{7}); }

}  // namespace

TEST(Bundle, ALargeFileIsDecodedInPlaceAsItsBytesAre) {
  const Bytes good = large_bundle();
  test::TempDir dir;
  const std::string path = dir.file("big.bpfsig");
  write_file_atomic(path, good);
  const SignedInput in = read_signed_input(path);
  const SignedLoader from_bytes = decode_bundle(good, path);
  expect_same_loader(in.loader, from_bytes);
  EXPECT_EQ(in.loader.seal, from_bytes.seal);
  EXPECT_EQ(in.loader.signer_cert, from_bytes.signer_cert);
  EXPECT_EQ(in.format, "bundle");
  EXPECT_EQ(in.sha256, crypto::sha256(good));
  EXPECT_EQ(read_signed_input(path, false).sha256, crypto::Digest{});
}

TEST(Bundle, ALargeFileIsRefusedExactlyAsItsBytesAre) {
  const Bytes good = large_bundle();
  const std::map<uint32_t, size_t> at = section_offsets(good);
  const size_t data = at.at(2), seal = at.at(10);
  test::TempDir dir;
  const std::string path = dir.file("big.bpfsig");
  auto same_refusal = [&](const Bytes& b, const std::string& what) {
    write_file_atomic(path, b);
    const std::string from_file = decode_outcome([&] { read_signed_input(path, false); });
    EXPECT_NE(from_file, "ok") << what;
    EXPECT_EQ(from_file, decode_outcome([&] { decode_bundle(b, path); })) << what;
  };
  Bytes b = good;
  b[8] = 3;
  same_refusal(b, "version");
  b = good;
  b[16] ^= 1;
  same_refusal(b, "length field");
  b = good;
  b[20] = 1;
  same_refusal(b, "reserved field");
  b = good;
  b[data + 4] ^= 8;  // the metadata's length: runs into the next section
  same_refusal(b, "section length");
  b = good;
  store_le32(&b[at.at(1)], 2);  // a second metadata section
  same_refusal(b, "duplicate section");
  b = good;
  b[seal - 1] = 1;  // the byte before the seal: padding, or the certificate's last
  same_refusal(b, "the byte before the seal");
  b = good;
  b.push_back(0);
  same_refusal(b, "a trailing byte");
  b.assign(good.begin(), good.end() - 1);
  same_refusal(b, "one byte short");
  b.assign(good.begin(), good.begin() + static_cast<long>(good.size() * 3 / 4));
  same_refusal(b, "cut inside the metadata");
  b = good;
  store_le32(&b[12], load_le32(&b[12]) - 1);  // the seal is left over
  same_refusal(b, "a section too few");
}

TEST(Bundle, SignedBundleIsSealedOverEverythingElse) {
  SignedLoader l = sign_example("execcount");
  ASSERT_FALSE(l.seal.empty());
  Bytes b = encode_bundle(l);
  auto at = section_offsets(b);
  ASSERT_TRUE(at.count(10));
  // The seal is the last section, and what it signs is the bundle before it
  // with the header counting only those sections.
  EXPECT_EQ(at[10] + section_size(b, at[10]), b.size());
  Bytes content = seal_content(l);
  ASSERT_EQ(content.size(), at[10]);
  EXPECT_TRUE(std::equal(content.begin() + 24, content.end(), b.begin() + 24));
  EXPECT_EQ(load_le32(&content[12]) + 1, load_le32(&b[12]));
  EXPECT_EQ(load_le32(&content[16]), content.size());
  EXPECT_TRUE(crypto::message_signature_verifies(l.seal, content, signer().cert.get()));
  EXPECT_EQ(decode_bundle(b, "mem").seal, l.seal);
}

TEST(Bundle, SealIsRequiredExactlyWhenSigned) {
  SignedLoader l = sign_example("execcount");
  Bytes b = encode_bundle(l);
  // Cut the seal off and fix the header: still refused.
  size_t seal_at = section_offsets(b)[10];
  Bytes cut(b.begin(), b.begin() + static_cast<long>(seal_at));
  store_le32(&cut[12], load_le32(&cut[12]) - 1);
  store_le32(&cut[16], static_cast<uint32_t>(cut.size()));
  EXPECT_EQ(expect_error([&] { decode_bundle(cut, "cut"); }, "bundle_format"), EBADMSG);
  SignedLoader unsealed = l;
  unsealed.seal.clear();
  EXPECT_EQ(expect_error([&] { encode_bundle(unsealed); }, "bundle_format"), EBADMSG);
  // Unsigned: no seal, and a seal is refused.
  SignedLoader unsigned_loader = unsealed;
  unsigned_loader.signature.clear();
  EXPECT_NO_THROW(decode_bundle(encode_bundle(unsigned_loader), "unsigned"));
  unsigned_loader.seal = l.seal;
  EXPECT_EQ(expect_error([&] { encode_bundle(unsigned_loader); }, "bundle_format"), EBADMSG);
}

TEST(Bundle, HasOneEncodingOnly) {
  Bytes b = encode_bundle(sign_example("execcount"));
  auto at = section_offsets(b);
  // NAME (first) and INSNS swapped: every field is still there, in another order.
  size_t name = at[5], insns = at[1];
  ASSERT_LT(name, insns);
  Bytes swapped(b.begin(), b.begin() + static_cast<long>(name));
  swapped.insert(swapped.end(), b.begin() + static_cast<long>(insns),
                 b.begin() + static_cast<long>(insns + section_size(b, insns)));
  swapped.insert(swapped.end(), b.begin() + static_cast<long>(name), b.begin() + static_cast<long>(insns));
  swapped.insert(swapped.end(), b.begin() + static_cast<long>(insns + section_size(b, insns)), b.end());
  ASSERT_EQ(swapped.size(), b.size());
  try {
    decode_bundle(swapped, "swapped");
    FAIL() << "a reordered bundle was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), "bundle_format");
    EXPECT_NE(std::string(e.what()).find("canonical"), std::string::npos) << e.what();
  }
  // An empty SIGNER_CERT section spells "no certificate" a second way.
  SignedLoader l = sign_example("execcount");
  l.signer_cert.clear();
  seal_bundle(l, signer().key.get());
  Bytes nocert = encode_bundle(l);
  size_t seal_at = section_offsets(nocert)[10];
  Bytes empty_cert(nocert.begin(), nocert.begin() + static_cast<long>(seal_at));
  Bytes header = {8, 0, 0, 0, 0, 0, 0, 0};
  empty_cert.insert(empty_cert.end(), header.begin(), header.end());
  empty_cert.insert(empty_cert.end(), nocert.begin() + static_cast<long>(seal_at), nocert.end());
  store_le32(&empty_cert[12], load_le32(&empty_cert[12]) + 1);
  store_le32(&empty_cert[16], static_cast<uint32_t>(empty_cert.size()));
  EXPECT_EQ(expect_error([&] { decode_bundle(empty_cert, "empty-cert"); }, "bundle_format"), EBADMSG);
}

TEST(Bundle, UnknownOptionalSectionsAreKeptAndSealed) {
  SignedLoader l = sign_example("execcount");
  l.extensions.push_back({0x80000042u, Bytes{1, 2, 3}});
  seal_bundle(l, signer().key.get());
  Bytes b = encode_bundle(l);
  SignedLoader back = decode_bundle(b, "ext");
  ASSERT_EQ(back.extensions.size(), 1u);
  EXPECT_EQ(back.extensions[0], l.extensions[0]);
  EXPECT_EQ(encode_bundle(back), b);
  EXPECT_TRUE(crypto::message_signature_verifies(back.seal, seal_content(back), signer().cert.get()));
  // A reader that skips the extension still signs over it: changing it breaks the seal.
  back.extensions[0].payload[0] ^= 1;
  EXPECT_FALSE(crypto::message_signature_verifies(back.seal, seal_content(back), signer().cert.get()));
}

TEST(Header, ParsesBpftool77Output) {
  SKIP_UNLESS(test::missing_shared_testdata());
  SignedLoader l = bpftool_header("prog.lskel.h");
  EXPECT_EQ(l.name, "prog_bpf");
  EXPECT_EQ(l.data.size(), 3656u);
  EXPECT_EQ(l.insns.size(), 2288u);
  EXPECT_EQ(l.signature.size(), 375u);
  EXPECT_EQ(l.excl_hash.size(), 32u);
  EXPECT_EQ(l.map_names, (std::vector<std::string>{"counts", "bss", "data"}));
  EXPECT_EQ(l.prog_names, (std::vector<std::string>{"handle_execve"}));
  crypto::Digest d = crypto::sha256(l.insns);
  EXPECT_EQ(l.excl_hash, Bytes(d.begin(), d.end()));
  EXPECT_EQ(to_hex(crypto::sha256(l.data)).substr(0, 8), "202423a9");
  EXPECT_EQ(loader_ctx_size(l), 76u);
}

TEST(Header, ParsesBpftoolMasterOutput) {
  SKIP_UNLESS(test::missing_shared_testdata());
  SignedLoader l = bpftool_header("prog.master.lskel.h");
  EXPECT_EQ(l.insns.size(), 1784u);
  EXPECT_FALSE(read_match_block(isa::decode(l.insns)).found);
}

TEST(Header, RenderThenParseIsIdentity) {
  SignedLoader l = sign_example("xdpfilter");
  std::string text = render_header(l);
  SignedLoader back = parse_header(text, "gen.h");
  expect_same_loader(back, l);
  for (const auto& line : [&] {
         std::vector<std::string> lines;
         size_t s = 0;
         for (size_t e; (e = text.find('\n', s)) != std::string::npos; s = e + 1) lines.push_back(text.substr(s, e - s));
         return lines;
       }())
    EXPECT_LE(line.size(), 100u);
}

TEST(Header, WrittenInPiecesWithTheSignedInitialValues) {
  // A load-time header written from the object: its __open literals (.bss,
  // .data) are the values the signed loader gives the maps, taken from the
  // signed metadata; write_header hands the text over in bounded pieces
  // whose concatenation is render_header's text.
  SignOptions o;
  o.scheme = Scheme::kLoadtime;
  const SignedLoader l = sign_object(example("execcount"), signer().cert.get(), signer().key.get(), o);
  ASSERT_TRUE(l.api.present);
  ASSERT_FALSE(l.api.sections.empty());
  std::string pieces;
  size_t largest = 0;
  write_header(l, [&](ByteView piece) {
    largest = std::max(largest, piece.size());
    pieces.append(reinterpret_cast<const char*>(piece.data()), piece.size());
  });
  EXPECT_EQ(pieces, render_header(l));
  EXPECT_LE(largest, size_t{64} << 10);
  const SignedLoader back = parse_header(pieces, "execcount.lskel.h");
  ASSERT_EQ(back.header_initial_values.size(), l.api.sections.size());
  const std::vector<SignedMap> maps = signed_maps(l);
  for (const auto& literal : back.header_initial_values) {
    auto m = std::find_if(maps.begin(), maps.end(), [&](const SignedMap& s) { return s.name == literal.map; });
    ASSERT_NE(m, maps.end()) << literal.map;
    ASSERT_TRUE(m->has_initial_value) << literal.map;
    EXPECT_EQ(literal.value, m->initial_value) << literal.map;
  }
  check_header_initial_values(back, "execcount.lskel.h");  // what read_signed_file checks
}

TEST(Header, ReadsCEscapesLikeACompiler) {
  std::string text =
      "struct s {\n\tstruct bpf_loader_ctx ctx;\n\tstruct { struct bpf_prog_desc p; } progs;\n};\n"
      "static const char opts_data[] = \"a\\x41\\101\\0\\n\" \"\\\n\\\\z\";\n"
      "static const char opts_insn[] = \"\\0\\0\\0\\0\\0\\0\\0\\0\";\n"
      "static const char opts_sig[] = \"\";\nstatic const char opts_excl_hash[] = \"\";\n";
  SignedLoader l = parse_header(text, "t.h");
  EXPECT_EQ(l.data, (Bytes{'a', 'A', 'A', 0, '\n', '\\', 'z'}));
  EXPECT_EQ(l.insns, Bytes(8, 0));
}

TEST(Header, RejectsMalformedHeaders) {
  auto parse = [](const std::string& t) { parse_header(t, "bad.h"); };
  EXPECT_EQ(expect_error([&] { parse("int main() {}"); }, "header_format"), EBADMSG);
  std::string base = "struct s {\n struct bpf_loader_ctx ctx;\n struct bpf_prog_desc p;\n};\n";
  EXPECT_EQ(expect_error([&] { parse(base); }, "header_format"), EBADMSG);
  EXPECT_EQ(expect_error([&] { parse(base + "static const char opts_data[] = \"\\x1ff\";"); }, "header_format"), EBADMSG);
  EXPECT_EQ(expect_error([&] { parse(base + "static const char opts_data[] = \"abc"); }, "header_format"), EBADMSG);
  EXPECT_EQ(expect_error([&] { parse(base + "static const char opts_data[] = \"\\q\";"); }, "header_format"), EBADMSG);
}

// A member declaration whose name is no C identifier is refused with its
// line: dropping it would shift the loader ctx, so verify would say OK and
// the load would fail.
TEST(Header, RefusesMalformedNamesWithTheLine) {
  SignedLoader l = sign_example("multimap");
  const std::string good = render_header(l);
  auto with = [&](const std::string& from, const std::string& to) {
    std::string t = good;
    size_t at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) t.replace(at, from.size(), to);
    return t;
  };
  auto line_of = [&](const std::string& needle) {
    return std::to_string(1 + std::count(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(good.find(needle)), '\n'));
  };
  struct Case {
    std::string from, to, kind;
  };
  const Case cases[] = {
      {"struct bpf_map_desc histogram;", "struct bpf_map_desc histo-gram;", "header_map_name"},
      {"struct bpf_map_desc histogram;", "struct bpf_map_desc 1histogram;", "header_map_name"},
      {"struct bpf_map_desc histogram;", "struct bpf_map_desc histogram x;", "header_map_name"},
      {"struct bpf_map_desc histogram;", "struct bpf_map_desc start_ts;", "header_map_name"},
      {"struct bpf_prog_desc on_exit;", "struct bpf_prog_desc on.exit;", "header_prog_name"},
  };
  for (const Case& c : cases) {
    try {
      parse_header(with(c.from, c.to), "h.lskel.h");
      ADD_FAILURE() << "accepted: " << c.to;
    } catch (const Error& e) {
      EXPECT_EQ(e.err(), EBADMSG);
      EXPECT_EQ(e.kind(), c.kind) << e.what();
      EXPECT_NE(std::string(e.what()).find("h.lskel.h: line " + line_of(c.from) + ":"), std::string::npos) << e.what();
    }
  }
  // A second definition of an array or of the skeleton struct: which one
  // the compiler would see is not the parser's to guess.
  for (const std::string& dup : {std::string("\tstatic const char opts_sig[] = \"\";\n"),
                                 std::string("struct other { struct bpf_loader_ctx ctx; };\n")}) {
    std::string t = good;
    t.insert(t.rfind("#endif"), dup);
    std::string line = std::to_string(1 + std::count(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(t.rfind(dup)), '\n'));
    try {
      parse_header(t, "h.lskel.h");
      ADD_FAILURE() << "accepted a second " << dup;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), "header_format") << e.what();
      EXPECT_NE(std::string(e.what()).find("h.lskel.h: line " + line + ": a second"), std::string::npos) << e.what();
    }
  }
  std::string bad_struct = with("struct multimap_bpf {", "struct multi-map {");
  EXPECT_EQ(expect_error([&] { parse_header(bad_struct, "h.lskel.h"); }, "header_skeleton_name"), EBADMSG);
  EXPECT_EQ(parse_header(good, "h.lskel.h").map_names.size(), 5u);
}

TEST(ReadSignedFile, DetectsFormats) {
  test::TempDir d;
  SignedLoader l = sign_example("execcount");
  write_file_atomic(d.file("a.bpfsig"), encode_bundle(l));
  write_file_atomic(d.file("a.h"), render_header(l));
  test::write_text(d.file("junk"), "hello");
  EXPECT_EQ(read_signed_file(d.file("a.bpfsig")).insns, l.insns);
  EXPECT_EQ(read_signed_file(d.file("a.h")).insns, l.insns);
  EXPECT_EQ(expect_error([&] { read_signed_file(d.file("junk")); }, "unknown_format"), EBADMSG);
}

TEST(ProgDigest, ZeroesOnlyMapFdAndMapValueImmediates) {
  std::vector<isa::Insn> prog;
  for (uint8_t src : {isa::kPseudoMapFd, isa::kPseudoMapValue, isa::kPseudoMapIdx}) {
    auto ld = isa::ld_imm64(1, src, 0x1234567800000005ull);
    prog.insert(prog.end(), ld.begin(), ld.end());
  }
  prog.push_back(isa::exit_insn());
  Bytes raw = isa::encode(prog);
  Bytes zeroed = raw;
  for (size_t slot : {0u, 1u, 2u, 3u}) store_le32(&zeroed[slot * 8 + 4], 0);
  EXPECT_EQ(prog_digest(raw), crypto::sha256(zeroed));
  EXPECT_NE(prog_digest(raw), crypto::sha256(raw));
}
