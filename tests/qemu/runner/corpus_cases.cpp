// SPDX-License-Identifier: Apache-2.0
// The corpus differential on a kernel that allows what the host refuses
// (fentry, LSM): tests/qemu's Qemu.CorpusModelCreatesWhatTheKernelCreates
// compares the two object lists of each result.
#include "corpus_cases.h"

#include <dirent.h>

#include <algorithm>
#include <vector>

#include "bpfsig/error.h"
#include "bpfsig/skel.h"
#include "bpfsig/sys.h"
#include "tests/kmodel/corpus/corpus_objects.h"

namespace bpfsig::vmtest {

namespace {

using Json = nlohmann::json;

const std::string kSuffix = ".bundle";

std::vector<std::string> corpus_bundles(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string file = e->d_name;
      if (file.size() > kSuffix.size() && file.ends_with(kSuffix))
        names.push_back(file.substr(0, file.size() - kSuffix.size()));
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

void real_load(const skel::SignedLoader& loader, const Bytes& signer_der, Json& out) {
  try {
    sys::LoadOptions opts;
    opts.keyring = sys::KeyringMode::kOwn;
    opts.trusted_certs_der = {signer_der};
    sys::LoadResult r = sys::load(loader, opts);
    out["kernel_errno"] = 0;
    out["objects"] = corpus::real_objects(r);
    sys::close_fds(r);
  } catch (const Error& e) {
    out["kernel_errno"] = e.err();
    out["kernel_message"] = e.what();
  }
}

void model_load(const skel::SignedLoader& loader, const Bytes& signer_der, const kmodel::KernelProfile& profile,
                Json& out) {
  try {
    kmodel::Kernel kernel(profile);
    kmodel::Process& proc = kernel.spawn("bpfsig");
    kmodel::SkeletonOptions options;
    options.keyring_id = kernel.keyring_create("bpfsig");
    kernel.keyring_add_cert(options.keyring_id, signer_der);
    out["model_errno"] = 0;
    out["model_objects"] = corpus::model_objects(kmodel::load_skeleton(kernel, proc, loader, options));
  } catch (const Error& e) {
    out["model_errno"] = e.err();
    out["model_message"] = e.what();
  }
}

}  // namespace

void run_corpus_cases(const std::string& payload_dir, const Bytes& signer_der, const kmodel::KernelProfile& model,
                      const std::function<void(const Json&)>& emit) {
  const std::string dir = payload_dir + "/corpus";
  for (const std::string& name : corpus_bundles(dir)) {
    Json j{{"case", "corpus/" + name}, {"program", name}};
    try {
      const skel::SignedLoader loader = skel::read_signed_file(dir + "/" + name + kSuffix);
      real_load(loader, signer_der, j);
      model_load(loader, signer_der, model, j);
    } catch (const Error& e) {
      j["bundle_error"] = e.what();
    }
    emit(j);
  }
}

}  // namespace bpfsig::vmtest
