// SPDX-License-Identifier: Apache-2.0
// Figures for signing and verification. Each figure has its baseline measured
// in the same run, so what matters is the ratio:
//   BM_VerifySigOnly_Bpfsig vs BM_Verify_OpensslCmsApi   (same bytes, in process)
//   BM_Verify_Bpfsig: the whole verification (signature + exclusive hash + hash chain)
//   BM_VerifyCmd_Bpfsig     vs BM_VerifyCmd_OpensslCms   (whole commands, fork+exec)
//   BM_Sign / BM_VerifySig per KiB of loader (bytes_per_second)
//   BM_Verify_Floor: what any verify must do, with OpenSSL: two public-key
//     verifies (the signature and the seal) and one SHA-256 pass over the
//     instructions and the metadata. BM_Verify_Bpfsig (the load-time scheme)
//     reports "over_floor" (target <= 1.2), in thread CPU time (bench/ratio.h).
//   BM_Verify_Hornet against the same program in each other scheme:
//     "over_loadtime" (BM_Verify_Bpfsig), "over_loader_hash"
//     (BM_Verify_LoaderHash) and "over_hash_chain" (BM_Verify_HashChain);
//     target <= 1.1 for each.
//   BM_Verify_FloorEveryDigest: the same two public-key verifies and each of
//     the four digests a verify must compute hashed once (the floor above
//     hashes only the signed content); BM_Verify_Bpfsig's "over_every_digest".
//   BM_Start_*: `/bin/true`, `openssl version` and `bpfsig --version` as
//     processes; counters "cpu_ms" (the child's CPU time, from wait4) and, for
//     bpfsig, "over_true" and "ms_over_true" (the start-up cost bpfsig adds).
// and the peak resident memory of the process (counter "peak_rss_kib").
#include <benchmark/benchmark.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bpfsig/crypto.h"
#include "bpfsig/skel.h"
#include "bpfsig/verify.h"
#include "ratio.h"
#include "spawn.h"

using namespace bpfsig;
using bpfsig::bench::CpuTimer;
using bpfsig::bench::run_quiet;

namespace {

struct Fixture {
  std::string dir;
  crypto::PrivateKey key;
  crypto::Certificate cert;
  skel::SignedLoader loader;  // load-time (insns || metadata), the default scheme
  skel::SignedLoader loader_hash;
  skel::SignedLoader hash_chain;
  skel::SignedLoader hornet;
  Fixture() {
    char templ[] = "/tmp/bpfsig-bench.XXXXXX";
    dir = ::mkdtemp(templ);
    crypto::keygen({}, dir + "/k.pem", dir + "/c.der");
    key = crypto::load_private_key(dir + "/k.pem");
    cert = crypto::load_certificate(dir + "/c.der");
    loader = sign_as(skel::Scheme::kLoadtime);
    loader_hash = sign_as(skel::Scheme::kLoaderHash);
    hash_chain = sign_as(skel::Scheme::kHashChain);
    hornet = sign_as(skel::Scheme::kHornet);
    write_file_atomic(dir + "/x.bpfsig", skel::encode_bundle(loader));
    write_file_atomic(dir + "/insns.bin", loader.insns);
    write_file_atomic(dir + "/sig.p7s", loader.signature);
  }
  skel::SignedLoader sign_as(skel::Scheme scheme) const {
    skel::SignOptions options;
    options.scheme = scheme;
    return skel::sign_object(std::string(BPFSIG_EXAMPLES_DIR) + "/multimap.bpf.o", cert.get(), key.get(), options);
  }
  ~Fixture() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

Fixture& fx() {
  static Fixture f;
  return f;
}

void report_peak_rss(benchmark::State& state) {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  state.counters["peak_rss_kib"] = static_cast<double>(ru.ru_maxrss);
}

std::vector<crypto::Certificate> trusted() {
  std::vector<crypto::Certificate> v;
  v.push_back(crypto::load_certificate(fx().dir + "/c.der"));
  return v;
}

// A signature by the fixture's key over a message the size of CMS signed attributes.
struct SignedMessage {
  Bytes message = Bytes(100, 0x5a);
  Bytes signature;
  SignedMessage() {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, fx().key.get());
    EVP_DigestSign(ctx, nullptr, &len, message.data(), message.size());
    signature.resize(len);
    EVP_DigestSign(ctx, signature.data(), &len, message.data(), message.size());
    signature.resize(len);
    EVP_MD_CTX_free(ctx);
  }
};

bool public_key_verifies(EVP_PKEY* key, const SignedMessage& m) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(ctx, m.signature.data(), m.signature.size(), m.message.data(), m.message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

void BM_Verify_Floor(benchmark::State& state) {
  const SignedMessage signed_message;
  EVP_PKEY* key = X509_get0_pubkey(fx().cert.get());
  const auto& l = fx().loader;
  CpuTimer cpu;
  for (auto _ : state) {
    if (!public_key_verifies(key, signed_message) || !public_key_verifies(key, signed_message))
      state.SkipWithError("public-key verify failed");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    EVP_DigestUpdate(ctx, l.insns.data(), l.insns.size());
    EVP_DigestUpdate(ctx, l.data.data(), l.data.size());
    EVP_DigestFinal_ex(ctx, md, &md_len);
    EVP_MD_CTX_free(ctx);
    benchmark::DoNotOptimize(md);
  }
  bench::record("floor", cpu.per_iteration(state), state);
}
BENCHMARK(BM_Verify_Floor);

// SHA-256 of the parts' concatenation, as one streaming pass.
void hash_once(std::initializer_list<ByteView> parts) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (ByteView p : parts) EVP_DigestUpdate(ctx, p.data(), p.size());
  EVP_DigestFinal_ex(ctx, md, &md_len);
  EVP_MD_CTX_free(ctx);
  benchmark::DoNotOptimize(md);
}

// The floor with every digest a verify of this bundle is asked for, each
// computed once: the signed content (insns || metadata), the metadata map's
// hash (the loader's hash-match block names it), the program digest (the
// exclusive-map hash names it) and the bundle without its seal (the seal
// signs it). They are four different messages: no one pass yields two of
// them. BM_Verify_Bpfsig reports "over_every_digest" against it.
void BM_Verify_FloorEveryDigest(benchmark::State& state) {
  const SignedMessage signed_message;
  EVP_PKEY* key = X509_get0_pubkey(fx().cert.get());
  const auto& l = fx().loader;
  Bytes sealed;  // the seal's message, as verify hashes it
  skel::write_seal_content(l, [&](ByteView piece) { sealed.insert(sealed.end(), piece.begin(), piece.end()); });
  static const uint8_t kZeros[8] = {};
  const ByteView pad(kZeros, (8 - l.data.size() % 8) % 8);
  CpuTimer cpu;
  for (auto _ : state) {
    if (!public_key_verifies(key, signed_message) || !public_key_verifies(key, signed_message))
      state.SkipWithError("public-key verify failed");
    hash_once({l.insns, l.data});
    hash_once({l.data, pad});
    hash_once({l.insns});
    hash_once({sealed});
  }
  bench::record("floor_every_digest", cpu.per_iteration(state), state);
}
BENCHMARK(BM_Verify_FloorEveryDigest);

void BM_Verify_Bpfsig(benchmark::State& state) {
  auto certs = trusted();
  CpuTimer cpu;
  for (auto _ : state) {
    verify::Report r = verify::verify_loader(fx().loader, certs);
    if (r.err != 0) state.SkipWithError("verification failed");
    benchmark::DoNotOptimize(r);
  }
  const double mine = cpu.per_iteration(state);
  bench::record("verify", mine, state);
  bench::report_ratio(state, "over_floor", mine, {"floor"});
  bench::report_ratio(state, "over_every_digest", mine, {"floor_every_digest"});
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * fx().loader.insns.size()));
  report_peak_rss(state);
}
BENCHMARK(BM_Verify_Bpfsig);

// One verify of loader per iteration, its CPU time per verify.
double verify_each_iteration(benchmark::State& state, const skel::SignedLoader& loader) {
  auto certs = trusted();
  CpuTimer cpu;
  for (auto _ : state) {
    verify::Report r = verify::verify_loader(loader, certs);
    if (r.err != 0) state.SkipWithError("verification failed");
    benchmark::DoNotOptimize(r);
  }
  return cpu.per_iteration(state);
}

// The same program in the other schemes without signed attributes:
// BM_Verify_Bpfsig above is the load-time scheme (the default).
void BM_Verify_LoaderHash(benchmark::State& state) {
  bench::record("verify_loader_hash", verify_each_iteration(state, fx().loader_hash), state);
}
BENCHMARK(BM_Verify_LoaderHash);

void BM_Verify_HashChain(benchmark::State& state) {
  bench::record("verify_hash_chain", verify_each_iteration(state, fx().hash_chain), state);
}
BENCHMARK(BM_Verify_HashChain);

// The same program signed with the Hornet scheme, against each other scheme.
void BM_Verify_Hornet(benchmark::State& state) {
  const double mine = verify_each_iteration(state, fx().hornet);
  bench::report_ratio(state, "over_loadtime", mine, {"verify"});
  bench::report_ratio(state, "over_loader_hash", mine, {"verify_loader_hash"});
  bench::report_ratio(state, "over_hash_chain", mine, {"verify_hash_chain"});
}
BENCHMARK(BM_Verify_Hornet);

// The signature part alone, on the same bytes as the OpenSSL baseline below.
void BM_VerifySigOnly_Bpfsig(benchmark::State& state) {
  auto certs = trusted();
  const auto& l = fx().loader;
  for (auto _ : state) {
    crypto::SigCheck c = crypto::verify_kernel_rules(l.signature, l.insns, certs);
    if (c.err != 0) state.SkipWithError("verification failed");
    benchmark::DoNotOptimize(c);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * l.insns.size()));
}
BENCHMARK(BM_VerifySigOnly_Bpfsig);

// What `openssl cms -verify -binary -noverify -certfile C -content INSNS` does,
// through the API, on the same bytes: the baseline for BM_Verify_Bpfsig.
void BM_Verify_OpensslCmsApi(benchmark::State& state) {
  const auto& l = fx().loader;
  STACK_OF(X509)* certs = sk_X509_new_null();
  sk_X509_push(certs, fx().cert.get());
  for (auto _ : state) {
    const unsigned char* p = l.signature.data();
    CMS_ContentInfo* cms = d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(l.signature.size()));
    BIO* content = BIO_new_mem_buf(l.insns.data(), static_cast<int>(l.insns.size()));
    int ok = CMS_verify(cms, certs, nullptr, content, nullptr, CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY);
    if (ok != 1) state.SkipWithError("openssl verification failed");
    BIO_free(content);
    CMS_ContentInfo_free(cms);
  }
  sk_X509_free(certs);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * l.insns.size()));
}
BENCHMARK(BM_Verify_OpensslCmsApi);

void BM_VerifyCmd_Bpfsig(benchmark::State& state) {
  const std::string cli = bench::bpfsig_command();
  for (auto _ : state)
    if (run_quiet({cli, "verify", "-i", fx().dir + "/c.der", fx().dir + "/x.bpfsig"}) != 0)
      state.SkipWithError("bpfsig verify failed");
}
BENCHMARK(BM_VerifyCmd_Bpfsig)->Unit(benchmark::kMillisecond);

void BM_VerifyCmd_OpensslCms(benchmark::State& state) {
  for (auto _ : state)
    if (run_quiet({"openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", fx().dir + "/sig.p7s", "-content",
                   fx().dir + "/insns.bin", "-certfile", fx().dir + "/c.der", "-noverify", "-out", "/dev/null"}) != 0)
      state.SkipWithError("openssl cms -verify failed");
}
BENCHMARK(BM_VerifyCmd_OpensslCms)->Unit(benchmark::kMillisecond);

// Process start: a command that does nothing, OpenSSL's, and ours.
void start(benchmark::State& state, const std::vector<std::string>& argv, const std::string& name) {
  double cpu_total = 0;
  for (auto _ : state) {
    double cpu = 0;
    if (run_quiet(argv, &cpu) != 0) state.SkipWithError((argv[0] + " failed").c_str());
    cpu_total += cpu;
  }
  if (state.iterations() == 0) return;
  const double cpu = cpu_total / static_cast<double>(state.iterations());
  state.counters["cpu_ms"] = cpu * 1e3;
  bench::record(name, cpu, state);
  if (name != "bpfsig --version") return;
  bench::report_ratio(state, "over_true", cpu, {"true"});
  if (bench::recorded_seconds("true") > 0) state.counters["ms_over_true"] = (cpu - bench::recorded_seconds("true")) * 1e3;
}

void BM_Start_True(benchmark::State& state) { start(state, {"/bin/true"}, "true"); }
BENCHMARK(BM_Start_True)->Unit(benchmark::kMillisecond)->Iterations(200);
void BM_Start_OpensslVersion(benchmark::State& state) { start(state, {"openssl", "version"}, "openssl version"); }
BENCHMARK(BM_Start_OpensslVersion)->Unit(benchmark::kMillisecond)->Iterations(200);
void BM_Start_Bpfsig(benchmark::State& state) {
  start(state, {bench::bpfsig_command(), "--version"}, "bpfsig --version");
}
BENCHMARK(BM_Start_Bpfsig)->Unit(benchmark::kMillisecond)->Iterations(200);

// Signing and signature checking over loaders of 1..256 KiB.
Bytes loader_of(size_t kib) {
  Bytes b(kib * 1024);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 131 + 7);
  return b;
}

void BM_Sign(benchmark::State& state) {
  Bytes content = loader_of(static_cast<size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(crypto::sign_bpftool(content, fx().cert.get(), fx().key.get()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * content.size()));
  report_peak_rss(state);
}
BENCHMARK(BM_Sign)->Arg(1)->Arg(16)->Arg(256);

void BM_VerifySig(benchmark::State& state) {
  Bytes content = loader_of(static_cast<size_t>(state.range(0)));
  Bytes sig = crypto::sign_bpftool(content, fx().cert.get(), fx().key.get());
  auto certs = trusted();
  for (auto _ : state) {
    crypto::SigCheck c = crypto::verify_kernel_rules(sig, content, certs);
    if (c.err) state.SkipWithError("verification failed");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * content.size()));
  report_peak_rss(state);
}
BENCHMARK(BM_VerifySig)->Arg(1)->Arg(16)->Arg(256);

void BM_SignObject(benchmark::State& state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(skel::sign_object(std::string(BPFSIG_EXAMPLES_DIR) + "/multimap.bpf.o", fx().cert.get(),
                                               fx().key.get(), {}));
  report_peak_rss(state);
}
BENCHMARK(BM_SignObject)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
