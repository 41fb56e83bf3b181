// SPDX-License-Identifier: Apache-2.0
// The kernel-model corpus on a VM kernel (corpus_cases.cpp).
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "bpfsig/bytes.h"
#include "bpfsig/kmodel.h"

namespace bpfsig::vmtest {

// For each PAYLOAD/corpus/NAME.bundle (tests/kmodel/corpus, signed with the
// load-time scheme by run-suite.sh) one result "corpus/NAME": the running
// kernel's objects after a signed load (a keyring of its own holding
// signer_der) and the model's (profile `model`, the same keyring), as
// corpus::real_objects / model_objects lines, with both errnos.
void run_corpus_cases(const std::string& payload_dir, const Bytes& signer_der, const kmodel::KernelProfile& model,
                      const std::function<void(const nlohmann::json&)>& emit);

}  // namespace bpfsig::vmtest
