// SPDX-License-Identifier: Apache-2.0
// Plain message signatures (the bundle seal): they verify under the signer's
// certificate only, and no single changed byte of the signature or of the
// message still verifies, for every key type the kernel takes.
#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "bpfsig/crypto.h"
#include "bpfsig/error.h"
#include "support/signer.h"

using namespace bpfsig;

namespace {

test::TestSigner& signer_for(crypto::KeyAlgo algo) {
  static std::map<crypto::KeyAlgo, std::unique_ptr<test::TestSigner>> signers;
  auto& s = signers[algo];
  if (!s) s = std::make_unique<test::TestSigner>(crypto::KeygenOptions{algo, "CN=seal " + crypto::key_algo_name(algo), 30});
  return *s;
}

class MessageSignature : public ::testing::TestWithParam<crypto::KeyAlgo> {};

TEST_P(MessageSignature, VerifiesOnlyTheSignedMessageUnderTheSignersCertificate) {
  test::TestSigner& s = signer_for(GetParam());
  const Bytes message = {0x89, 'B', 'P', 'F', 'S', 'I', 'G', '\n', 1, 2, 3};
  const Bytes sig = crypto::sign_message(message, s.key.get());
  EXPECT_TRUE(crypto::message_signature_verifies(sig, message, s.cert.get()));
  Bytes changed = message;
  changed.back() ^= 1;
  EXPECT_FALSE(crypto::message_signature_verifies(sig, changed, s.cert.get()));
  EXPECT_FALSE(crypto::message_signature_verifies(sig, message, test::default_signer().cert.get()));
  EXPECT_FALSE(crypto::message_signature_verifies(Bytes{}, message, s.cert.get()));
  EXPECT_FALSE(crypto::message_signature_verifies(sig, message, nullptr));
}

TEST_P(MessageSignature, EveryBitOfTheSignatureMatters) {
  test::TestSigner& s = signer_for(GetParam());
  const Bytes message(100, 0x5a);
  const Bytes sig = crypto::sign_message(message, s.key.get());
  size_t accepted = 0;
  for (size_t i = 0; i < sig.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      Bytes t = sig;
      t[i] ^= static_cast<uint8_t>(1u << bit);
      accepted += crypto::message_signature_verifies(t, message, s.cert.get());
    }
  EXPECT_EQ(accepted, 0u);
}

INSTANTIATE_TEST_SUITE_P(Keys, MessageSignature,
                         ::testing::Values(crypto::KeyAlgo::kRsa2048, crypto::KeyAlgo::kP256, crypto::KeyAlgo::kP384),
                         [](const auto& info) { return crypto::key_algo_name(info.param); });

}  // namespace
