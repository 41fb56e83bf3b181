// SPDX-License-Identifier: Apache-2.0
// Figures for signing and verification. Each figure has its baseline measured
// in the same run, so what matters is the ratio:
//   BM_VerifySigOnly_Bpfsig vs BM_Verify_OpensslCmsApi   (same bytes, in process)
//   BM_Verify_Bpfsig: the whole verification (signature + exclusive hash + hash chain)
//   BM_VerifyCmd_Bpfsig     vs BM_VerifyCmd_OpensslCms   (whole commands, fork+exec)
//   BM_Sign / BM_VerifySig per KiB of loader (bytes_per_second)
// and the peak resident memory of the process (counter "peak_rss_kib").
#include <benchmark/benchmark.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
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
#include "spawn.h"

using namespace bpfsig;
using bpfsig::bench::run_quiet;

namespace {

struct Fixture {
  std::string dir;
  crypto::PrivateKey key;
  crypto::Certificate cert;
  skel::SignedLoader loader;
  Fixture() {
    char templ[] = "/tmp/bpfsig-bench.XXXXXX";
    dir = ::mkdtemp(templ);
    crypto::keygen({}, dir + "/k.pem", dir + "/c.der");
    key = crypto::load_private_key(dir + "/k.pem");
    cert = crypto::load_certificate(dir + "/c.der");
    loader = skel::sign_object(std::string(BPFSIG_EXAMPLES_DIR) + "/multimap.bpf.o", cert.get(), key.get(), {});
    write_file_atomic(dir + "/x.bpfsig", skel::encode_bundle(loader));
    write_file_atomic(dir + "/insns.bin", loader.insns);
    write_file_atomic(dir + "/sig.p7s", loader.signature);
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

void BM_Verify_Bpfsig(benchmark::State& state) {
  auto certs = trusted();
  for (auto _ : state) {
    verify::Report r = verify::verify_loader(fx().loader, certs);
    if (r.err != 0) state.SkipWithError("verification failed");
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * fx().loader.insns.size()));
  report_peak_rss(state);
}
BENCHMARK(BM_Verify_Bpfsig);

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
