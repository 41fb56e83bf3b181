// SPDX-License-Identifier: Apache-2.0
// The enforcer's cases of the VM suite (enforce_cases.cpp).
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "bpfsig/bytes.h"
#include "bpfsig/kmodel.h"
#include "bpfsig/skel.h"
#include "bpfsig/sys.h"

namespace bpfsig::vmtest {

struct EnforceInputs {
  skel::SignedLoader enforcer;     // PAYLOAD/enforcer/enforcer[.loader-hash].bpfsig: the kernel's scheme
  Bytes enforcer_cert_der;         // PAYLOAD/enforcer/enforcer-cert.der
  skel::SignedLoader signed_loader;  // a load-time bundle of an example
  Bytes signer_der;                // its trust anchor
  std::string unsigned_object;     // a BPF object for `bpftool prog load`
  sys::SignatureCheck kernel_check = sys::SignatureCheck::kInsnsAndMetadata;  // what the kernel checks
  kmodel::KernelProfile model_profile = kmodel::KernelProfile::loadtime_2026();  // the model of that kernel
};

// Emits one result per phase ("enforce/signed_user", "enforce/wrong_keyring",
// "enforce/audit"), then "enforce/overhead"; or "enforce/unsupported" when
// the kernel lacks prog->aux->sig or the BPF LSM.
void run_enforce_cases(const EnforceInputs& inputs, const std::function<void(const nlohmann::json&)>& emit);

}  // namespace bpfsig::vmtest
