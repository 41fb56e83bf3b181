// SPDX-License-Identifier: Apache-2.0
// verify --deep (docs/deep-verify.md): the manifest of what a signed loader
// creates, checked against what the kernel model and the running kernel
// create for the same loader; a tampered artifact never runs; every field's
// provenance, and the fields that come from unsigned input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <filesystem>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "bpfsig/deep.h"
#include "bpfsig/error.h"
#include "bpfsig/files.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/skel.h"
#include "bpfsig/sys.h"
#include "common/bpf_names.h"
#include "support/kernel_features.h"
#include "support/signer.h"
#include "support/support.h"

using namespace bpfsig;
using Json = deep::Manifest;

namespace {

const std::vector<std::string> kExamples = {"execcount", "multimap", "xdpfilter"};
const skel::Scheme kSchemes[] = {skel::Scheme::kLoaderHash, skel::Scheme::kLoadtime, skel::Scheme::kHornet,
                                 skel::Scheme::kHashChain};

skel::SignedLoader sign_example(const std::string& name, skel::Scheme scheme, bool ctx_overrides = false) {
  skel::SignOptions o;
  o.scheme = scheme;
  o.ctx_overrides = ctx_overrides;
  test::TestSigner& s = test::default_signer();
  return skel::sign_object(test::examples_dir() + "/" + name + ".bpf.o", s.cert.get(), s.key.get(), o);
}

skel::SignedInput as_bundle(skel::SignedLoader loader) {
  Bytes encoded = skel::encode_bundle(loader);
  return skel::SignedInput{std::move(loader), "bundle", crypto::sha256(encoded)};
}

deep::Result deep_of(const skel::SignedLoader& loader, const deep::Options& options = {}) {
  return deep::deep_verify(as_bundle(loader), "x.bpfsig", test::default_signer().trust(), options);
}

// Every P of the manifest, with its path.
void each_provenance(const Json& m, const std::function<void(const std::string&, const Json&)>& fn) {
  for (const char* list : {"btf", "maps", "programs"})
    for (const auto& entry : m[list])
      for (const auto& [field, p] : entry["provenance"].items())
        fn(std::string(list) + "[" + std::to_string(entry["index"].get<size_t>()) + "]." + field, p);
}

bool has_unsigned_path(const Json& m, const std::string& path, const std::string& source) {
  for (const auto& u : m["unsigned_inputs"])
    if (u["path"] == path && u["source"] == source) return true;
  return false;
}

size_t map_index(const skel::SignedLoader& loader, const std::string& name) {
  for (size_t i = 0; i < loader.map_names.size(); ++i)
    if (loader.map_names[i] == name) return i;
  throw std::runtime_error("no map " + name);
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

// "map TYPE NAME key K value V max_entries M" / "prog TYPE NAME tag T": what
// the differential compares (ids aside). The inner-map templates the loader
// creates for a map-in-map (and closes: no ctx descriptor names them) are in
// the manifest, referenced by their outer map's inner_map, and not among the
// objects a load returns.
std::vector<std::string> manifest_objects(const Json& m) {
  std::set<size_t> templates;
  for (const auto& map : m["maps"])
    if (!map["inner_map"].is_null()) templates.insert(map["inner_map"].get<size_t>());
  std::vector<std::string> lines;
  for (const auto& map : m["maps"])
    if (!templates.count(map["index"].get<size_t>()))
      lines.push_back("map " + map["type"].get<std::string>() + " " + map["name"].get<std::string>() + " key " +
                    std::to_string(map["key_size"].get<uint32_t>()) + " value " +
                    std::to_string(map["value_size"].get<uint32_t>()) + " max_entries " +
                    std::to_string(map["max_entries"].get<uint32_t>()));
  for (const auto& p : m["programs"])
    lines.push_back("prog " + p["type"].get<std::string>() + " " + p["name"].get<std::string>() + " tag " +
                    p["tag"].get<std::string>());
  return lines;
}

std::vector<std::string> kernel_objects(const std::vector<kmodel::MapInfo>& maps, const std::vector<kmodel::ProgInfo>& progs) {
  std::vector<std::string> lines;
  for (const auto& m : maps)
    lines.push_back("map " + upper(std::string(*bpf_map_type_str(m.type))) + " " + m.name + " key " +
                    std::to_string(m.key_size) + " value " + std::to_string(m.value_size) + " max_entries " +
                    std::to_string(m.max_entries));
  for (const auto& p : progs)
    lines.push_back("prog " + upper(std::string(*bpf_prog_type_str(p.type))) + " " + p.name + " tag " +
                    to_hex(ByteView(p.digest.data(), 8)));
  return lines;
}

std::vector<std::string> real_objects(const sys::LoadResult& r) {
  std::vector<std::string> lines;
  for (const auto& m : r.maps)
    lines.push_back("map " + upper(std::string(*bpf_map_type_str(m.type))) + " " + m.name + " key " +
                    std::to_string(m.key_size) + " value " + std::to_string(m.value_size) + " max_entries " +
                    std::to_string(m.max_entries));
  for (const auto& p : r.progs)
    lines.push_back("prog " + upper(std::string(*bpf_prog_type_str(p.type))) + " " + p.name + " tag " + p.tag_hex);
  return lines;
}

}  // namespace

// Each example in each scheme: verified, run, and described; nothing comes
// from unsigned input and every field's provenance is signed bytes or the kernel.
TEST(Deep, EveryExampleInEverySchemeHasASignedManifest) {
  for (const auto& name : kExamples) {
    for (skel::Scheme scheme : kSchemes) {
      SCOPED_TRACE(name + " " + skel::scheme_name(scheme));
      const skel::SignedLoader loader = sign_example(name, scheme);
      const deep::Result r = deep_of(loader);
      ASSERT_TRUE(r.ok()) << r.report.message << r.message;
      const Json& m = r.manifest;
      EXPECT_EQ(m["schema"], "bpfsig-manifest/1");
      EXPECT_EQ(m["input"]["scheme"], skel::scheme_name(scheme));
      EXPECT_EQ(m["kernel"], deep::profile_for(scheme).name);
      EXPECT_EQ(m["maps"].size(), loader.map_names.size());
      EXPECT_EQ(m["programs"].size(), loader.prog_names.size());
      EXPECT_TRUE(m["unsigned_inputs"].empty()) << m["unsigned_inputs"].dump();
      EXPECT_EQ(m["loader"]["retval"], 0);
      each_provenance(m, [](const std::string& path, const Json& p) {
        const std::string source = p["source"];
        EXPECT_TRUE(source == "metadata" || source == "insns" || source == "kernel" || source == "computed")
            << path << ": " << p.dump();
        if (source == "computed") {
          for (const auto& s : p["sources"]) EXPECT_TRUE(s != "ctx" && s != "user") << path << ": " << p.dump();
        }
      });
    }
  }
}

// A plain load-time bundle: the fields read from the attrs are bytes of the
// signed metadata at the offsets given (the bytes there are the values shown).
TEST(Deep, MetadataProvenanceNamesTheBytesTheValueIsIn) {
  const skel::SignedLoader loader = sign_example("execcount", skel::Scheme::kLoadtime);
  const deep::Result r = deep_of(loader);
  ASSERT_TRUE(r.ok());
  for (const auto& map : r.manifest["maps"]) {
    for (const char* field : {"key_size", "value_size", "max_entries"}) {
      const Json& p = map["provenance"][field];
      ASSERT_EQ(p["source"], "metadata") << field;
      ASSERT_EQ(p["length"], 4);
      const size_t offset = p["offset"];
      ASSERT_LE(offset + 4, loader.data.size());
      EXPECT_EQ(load_le32(loader.data.data() + offset), map[field].get<uint32_t>()) << field;
    }
    const Json& name = map["provenance"]["name"];
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(loader.data.data()) + name["offset"].get<size_t>()),
              map["name"].get<std::string>());
  }
}

// The differential: the manifest describes what the model created (types,
// names, sizes, instruction counts, tags) in the order it created them.
TEST(Deep, ManifestMatchesWhatTheModelCreates) {
  for (const auto& name : kExamples) {
    SCOPED_TRACE(name);
    const skel::SignedLoader loader = sign_example(name, skel::Scheme::kLoadtime);
    const deep::Result r = deep_of(loader);
    ASSERT_TRUE(r.ok());
    kmodel::Kernel kernel(deep::profile_for(loader.scheme));
    kmodel::Process& proc = kernel.spawn("loader");
    kmodel::SkeletonOptions options;
    options.send_signature = false;
    kmodel::SkeletonResult created = kmodel::load_skeleton(kernel, proc, loader, options);
    EXPECT_EQ(manifest_objects(r.manifest), kernel_objects(created.maps, created.progs));
    for (size_t i = 0; i < created.progs.size(); ++i)
      EXPECT_EQ(r.manifest["programs"][i]["insn_count"], created.progs[i].insn_count);
  }
}

// ... and what the running kernel creates for the same loader, loaded
// unsigned (this kernel checks no signatures), as KmodelCorpus compares.
TEST(Deep, ManifestMatchesWhatTheRunningKernelCreates) {
  SKIP_UNLESS(test::missing_excl_maps());
  for (const auto& name : kExamples) {
    SCOPED_TRACE(name);
    const skel::SignedLoader loader = sign_example(name, skel::Scheme::kLoadtime);
    const deep::Result r = deep_of(loader);
    ASSERT_TRUE(r.ok());
    sys::LoadOptions options;
    options.send_signature = false;
    sys::LoadResult real;
    try {
      real = sys::load(loader, options);
    } catch (const Error& e) {
      if (e.err() == EPERM) GTEST_SKIP() << "skipped: this kernel refuses " << name << ": " << e.what();
      FAIL() << e.what();
    }
    EXPECT_EQ(manifest_objects(r.manifest), real_objects(real));
    sys::close_fds(real);
  }
}

// One flipped byte in the instructions, the metadata or the signature: the
// signature checks refuse it and the loader never runs (no trace, no manifest).
TEST(Deep, TamperedArtifactIsRefusedBeforeAnythingRuns) {
  const skel::SignedLoader good = sign_example("execcount", skel::Scheme::kLoadtime);
  for (int part = 0; part < 3; ++part) {
    skel::SignedLoader bad = good;
    Bytes& bytes = part == 0 ? bad.insns : part == 1 ? bad.data : bad.signature;
    bytes[bytes.size() / 2] ^= 0x01;
    SCOPED_TRACE(part == 0 ? "insns" : part == 1 ? "metadata" : "signature");
    const deep::Result r = deep_of(bad);
    EXPECT_NE(r.report.err, 0);
    EXPECT_FALSE(r.ran);
    EXPECT_TRUE(r.trace.calls.empty());
    EXPECT_TRUE(r.manifest.is_null());
  }
}

// bpftool 7.7's loader (sign --ctx-overrides) run with a ctx that resizes a
// map and replaces an initial value: both are flagged, with their source.
TEST(Deep, CtxOverridesAreFlagged) {
  const skel::SignedLoader loader = sign_example("execcount", skel::Scheme::kLoaderHash, /*ctx_overrides=*/true);
  const size_t counts = map_index(loader, "exec_counts");
  const size_t data = map_index(loader, "data");
  deep::CtxInput ctx;
  ctx.max_entries[counts] = 77;
  ctx.initial_values[data] = Bytes{1, 2, 3, 4};
  deep::Options options;
  options.ctx = ctx;
  const deep::Result r = deep_of(loader, options);
  ASSERT_TRUE(r.ran);
  ASSERT_EQ(r.err, 0) << r.message;
  const Json& m = r.manifest;
  const std::string counts_path = "maps[" + std::to_string(counts) + "]";
  EXPECT_EQ(m["maps"][counts]["max_entries"], 77);
  EXPECT_EQ(m["maps"][counts]["provenance"]["max_entries"]["source"], "ctx");
  EXPECT_TRUE(has_unsigned_path(m, counts_path + ".max_entries", "ctx")) << m["unsigned_inputs"].dump();
  EXPECT_TRUE(has_unsigned_path(m, "maps[" + std::to_string(data) + "].initial_sha256", "user"))
      << m["unsigned_inputs"].dump();
  // The ctx offset given is max_entries of that map's descriptor.
  for (const auto& u : m["unsigned_inputs"])
    if (u["path"] == counts_path + ".max_entries") {
      EXPECT_EQ(u["offset"], 24 + 16 * counts + 4);
    }
}

// The same loader with the ctx a light skeleton passes by default still
// branches on it: flagged as loader instructions that test unsigned input.
TEST(Deep, CtxOverridesLoaderIsFlaggedEvenWithAnEmptyCtx) {
  const deep::Result r = deep_of(sign_example("execcount", skel::Scheme::kLoaderHash, true));
  ASSERT_TRUE(r.ok()) << r.message;
  ASSERT_FALSE(r.manifest["unsigned_inputs"].empty());
  for (const auto& u : r.manifest["unsigned_inputs"]) {
    EXPECT_TRUE(u["path"].get<std::string>().starts_with("loader.insns[")) << u.dump();
    EXPECT_EQ(u["source"], "ctx");
  }
}

// bpftool 7.7's header: its loader copies the initial values from the
// header's literals (user memory): flagged; a changed literal is refused
// when the header is read, before anything runs.
TEST(Deep, Bpftool77HeaderInitialValuesAreFlagged) {
  SKIP_UNLESS(test::missing_shared_testdata());
  const std::string dir = test::shared_testdata() + "/bpftool-7.7";
  const skel::SignedInput input = skel::read_signed_input(dir + "/prog.lskel.h");
  EXPECT_EQ(input.format, "header");
  std::vector<crypto::Certificate> trusted;
  trusted.push_back(crypto::load_certificate(dir + "/cert.der"));
  const deep::Result r = deep::deep_verify(input, "prog.lskel.h", trusted);
  ASSERT_TRUE(r.ok()) << r.report.message << r.message;
  const size_t data = map_index(input.loader, "data");
  EXPECT_TRUE(has_unsigned_path(r.manifest, "maps[" + std::to_string(data) + "].initial_sha256", "user"))
      << r.manifest["unsigned_inputs"].dump();

  test::TempDir tmp;
  std::string text = test::read_text(dir + "/prog.lskel.h");
  // The .data literal (the program's `= 0xabcd1234`), one byte changed.
  const std::string literal = "\\x34\\x12\\xcd\\xab";
  ASSERT_NE(text.find(literal), std::string::npos);
  text.replace(text.find(literal), literal.size(), "\\x35\\x12\\xcd\\xab");
  test::write_text(tmp.file("changed.h"), text);
  try {
    skel::read_signed_input(tmp.file("changed.h"));
    FAIL() << "a changed literal was read";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), "header_initial_value");
  }
}

TEST(Deep, ExpectDiffNamesTheChangedFieldPaths) {
  const deep::Result r = deep_of(sign_example("execcount", skel::Scheme::kLoadtime));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(deep::manifest_diff(r.manifest, r.manifest).empty());
  Json reviewed = r.manifest;
  reviewed["input"]["file"] = "elsewhere/x.bpfsig";  // ignored
  EXPECT_TRUE(deep::manifest_diff(reviewed, r.manifest).empty());
  reviewed["maps"][0]["max_entries"] = 1;
  reviewed["programs"][0]["helpers"].push_back("bpf_probe_read_kernel");
  const std::vector<std::string> diff = deep::manifest_diff(reviewed, r.manifest);
  ASSERT_EQ(diff.size(), 2u);
  EXPECT_EQ(diff[0], "maps[0].max_entries: 1 -> " + std::to_string(r.manifest["maps"][0]["max_entries"].get<uint32_t>()));
  EXPECT_TRUE(diff[1].starts_with("programs[0].helpers[")) << diff[1];
  EXPECT_TRUE(diff[1].ends_with(": \"bpf_probe_read_kernel\" -> absent")) << diff[1];
}

// The manifest validates against docs/manifest.schema.json (python3-jsonschema).
TEST(Deep, ManifestValidatesAgainstTheJsonSchema) {
  const bool ci = getenv("CI") && std::string(getenv("CI")) == "true";
  if (test::run_command({"python3", "-c", "import jsonschema"}).exit_code != 0) {
    if (ci) FAIL() << "python3-jsonschema is missing (scripts/deps.sh installs it)";
    GTEST_SKIP() << "skipped: python3 cannot import jsonschema (scripts/deps.sh installs python3-jsonschema)";
  }
  test::TempDir tmp;
  std::vector<Json> manifests;
  for (const auto& name : kExamples) manifests.push_back(deep_of(sign_example(name, skel::Scheme::kLoadtime)).manifest);
  deep::CtxInput ctx;
  ctx.max_entries[0] = 5;
  deep::Options options;
  options.ctx = ctx;
  manifests.push_back(deep_of(sign_example("execcount", skel::Scheme::kLoaderHash, true), options).manifest);
  const std::string script =
      "import json, sys, jsonschema\n"
      "schema = json.load(open(sys.argv[1]))\n"
      "jsonschema.Draft7Validator.check_schema(schema)\n"
      "for path in sys.argv[2:]:\n"
      "    jsonschema.validate(json.load(open(path)), schema)\n";
  std::vector<std::string> argv = {"python3", "-c", script, test::source_dir() + "/docs/manifest.schema.json"};
  for (size_t i = 0; i < manifests.size(); ++i) {
    test::write_text(tmp.file(std::to_string(i) + ".json"), manifests[i].dump());
    argv.push_back(tmp.file(std::to_string(i) + ".json"));
  }
  test::CommandResult res = test::run_command(argv);
  EXPECT_EQ(res.exit_code, 0) << res.err;
}

// bpftool 7.8's header (the load-time scheme, which a header does not name):
// verified as that scheme, run, and nothing unsigned; with one metadata byte
// changed, refused before anything runs.
TEST(Deep, Bpftool78HeaderIsTheLoadtimeScheme) {
  const std::string bpftool = std::string(BPFSIG_DEPS_DIR) + "/bpftool-7.8/bpftool";
  if (::access(bpftool.c_str(), X_OK) != 0)
    GTEST_SKIP() << "skipped: no " << bpftool << " (scripts/libbpf/fetch-bpftool.sh fetches it; tests/skel does)";
  test::TempDir dir;
  test::TestSigner& signer = test::default_signer();
  const std::string object = dir.file("execcount.bpf.o");
  test::write_text(object, test::read_text(test::examples_dir() + "/execcount.bpf.o"));
  test::CommandResult gen = test::run_command(
      {bpftool, "gen", "skeleton", "-L", "-S", "-k", signer.dir.file("key.pem"), "-i", signer.cert_path(), object});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  test::write_text(dir.file("x.lskel.h"), gen.out);
  const skel::SignedInput input = skel::read_signed_input(dir.file("x.lskel.h"));
  const deep::Result r = deep::deep_verify(input, "x.lskel.h", signer.trust());
  ASSERT_TRUE(r.ok()) << r.report.message << r.message;
  EXPECT_EQ(r.manifest["input"]["scheme"], "loadtime");
  EXPECT_EQ(r.manifest["input"]["format"], "header");
  EXPECT_TRUE(r.manifest["unsigned_inputs"].empty()) << r.manifest["unsigned_inputs"].dump();
  EXPECT_EQ(r.manifest["programs"].size(), input.loader.prog_names.size());

  skel::SignedInput tampered = input;
  tampered.loader.data[tampered.loader.data.size() / 2] ^= 0x01;
  const deep::Result bad = deep::deep_verify(tampered, "x.lskel.h", signer.trust());
  EXPECT_NE(bad.report.err, 0);
  EXPECT_FALSE(bad.ran);
  EXPECT_TRUE(bad.trace.calls.empty());
}

// The corpus (tests/kmodel/corpus, built into build/corpus): every object's
// manifest against what the model creates for its loader (unsigned, the same
// profile, the host's BTF for CO-RE), and against the running kernel for the
// objects it loads (KmodelCorpus's differential; EPERM: a program type this
// kernel refuses, whose reference is the 7.3 VM).
TEST(Deep, CorpusManifestsMatchTheModelAndTheRunningKernel) {
  if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0) GTEST_SKIP() << "skipped: /sys/kernel/btf/vmlinux is not readable";
  std::vector<std::string> objects;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(BPFSIG_CORPUS_DIR, ec))
    if (e.path().string().ends_with(".bpf.o")) objects.push_back(e.path().string());
  std::sort(objects.begin(), objects.end());
  ASSERT_FALSE(objects.empty()) << "no corpus in " << BPFSIG_CORPUS_DIR;
  const bool real_kernel = test::missing_excl_maps().empty();
  size_t compared_with_kernel = 0;
  for (const auto& object : objects) {
    SCOPED_TRACE(object);
    skel::SignOptions o;
    o.scheme = skel::Scheme::kLoadtime;
    test::TestSigner& s = test::default_signer();
    const skel::SignedLoader loader = skel::sign_object(object, s.cert.get(), s.key.get(), o);
    const deep::Result r = deep_of(loader);
    ASSERT_TRUE(r.ok()) << r.report.message << r.message;
    EXPECT_TRUE(r.manifest["unsigned_inputs"].empty());
    kmodel::Kernel kernel(deep::profile_for(loader.scheme));
    kmodel::Process& proc = kernel.spawn("loader");
    kmodel::SkeletonOptions options;
    options.send_signature = false;
    kmodel::SkeletonResult created = kmodel::load_skeleton(kernel, proc, loader, options);
    EXPECT_EQ(manifest_objects(r.manifest), kernel_objects(created.maps, created.progs));
    if (!real_kernel) continue;
    sys::LoadOptions real_options;
    real_options.send_signature = false;
    try {
      sys::LoadResult real = sys::load(loader, real_options);
      EXPECT_EQ(manifest_objects(r.manifest), real_objects(real));
      sys::close_fds(real);
      ++compared_with_kernel;
    } catch (const Error& e) {
      EXPECT_EQ(e.err(), EPERM) << e.what();  // a program type this kernel refuses (fentry, LSM)
    }
  }
  std::cout << "[ corpus   ] " << objects.size() << " manifests checked against the model, " << compared_with_kernel
            << " against the running kernel\n";
}
