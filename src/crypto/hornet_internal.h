// SPDX-License-Identifier: Apache-2.0
// Private to src/crypto: the Hornet attribute read from a CMS message that is
// decoded already (KernelMessage holds one), so that no caller decodes the
// same DER twice.
#pragma once

#include <openssl/cms.h>

#include <optional>

#include "bpfsig/crypto.h"

namespace bpfsig::crypto::detail {

// hornet_attribute() after its d2i: the same result and errors.
std::optional<HornetAttribute> hornet_attribute_of(CMS_ContentInfo* cms);

}  // namespace bpfsig::crypto::detail
