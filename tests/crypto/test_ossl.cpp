// SPDX-License-Identifier: Apache-2.0
// The module's own OpenSSL helpers (src/crypto/ossl.h): what they compute in
// place of an OpenSSL call must be what OpenSSL computes.
#include <gtest/gtest.h>
#include <openssl/objects.h>

#include <string>
#include <vector>

#include "crypto/ossl.h"

namespace ossl = bpfsig::crypto::ossl;

namespace {

std::string openssl_text(const ASN1_OBJECT* oid) {
  char buf[512];
  int len = OBJ_obj2txt(buf, sizeof buf, oid, 1);
  return len <= 0 ? "" : std::string(buf, static_cast<size_t>(len));
}

// An OID object over raw content octets (ASN1_OBJECT_create copies them).
ossl::Owned<ASN1_OBJECT, ASN1_OBJECT_free> oid_of_content(std::vector<uint8_t> content) {
  return ossl::Owned<ASN1_OBJECT, ASN1_OBJECT_free>(
      ASN1_OBJECT_create(NID_undef, content.data(), static_cast<int>(content.size()), nullptr, nullptr));
}

}  // namespace

TEST(OidDotted, EveryOidOpenSslKnowsReadsAsOpenSslWritesIt) {
  int compared = 0, misses = 0;
  // OpenSSL does not export its table size: walk the NIDs until a long run
  // of them names nothing.
  for (int nid = 1; misses < 100; ++nid) {
    const ASN1_OBJECT* oid = OBJ_nid2obj(nid);
    misses = oid == nullptr ? misses + 1 : 0;
    if (oid == nullptr || OBJ_length(oid) == 0) continue;
    ASSERT_EQ(ossl::oid_dotted(oid), openssl_text(oid)) << "nid " << nid;
    ++compared;
  }
  ERR_clear_error();
  EXPECT_GT(compared, 1000);
}

TEST(OidDotted, ArcsPastTheTablesAndAtTheEdges) {
  for (const char* dotted : {"0.0", "0.39", "1.0", "1.39", "2.0", "2.39", "2.40", "2.999", "2.47.1",
                             "1.3.6.1.4.1.311.2.1.4", "1.2.643.7.1.1.2.2", "2.25.18446744073709551615",
                             "1.2.840.113549.1.9.16.2.47", "2.16.840.1.101.3.4.3.12", "1.2.3.127.128.16383.16384"}) {
    ossl::Owned<ASN1_OBJECT, ASN1_OBJECT_free> oid(OBJ_txt2obj(dotted, 1));
    ASSERT_NE(oid, nullptr) << dotted;
    EXPECT_EQ(ossl::oid_dotted(oid.get()), dotted);
    EXPECT_EQ(ossl::oid_dotted(oid.get()), openssl_text(oid.get()));
  }
}

TEST(OidDotted, ArcsPastSixtyFourBits) {
  // 2.25.<a UUID>: 128-bit arcs are common (the Hornet attribute's OID is one);
  // a longer arc is left to OBJ_obj2txt.
  for (const char* dotted : {"2.25.329800735698586629295641978511506172918", "2.25.340282366920938463463374607431768211455",
                             "1.2.18446744073709551616.3", "2.25.340282366920938463463374607431768211456",
                             "2.25.1000000000000000000000000000000000000000000000000.7"}) {
    ossl::Owned<ASN1_OBJECT, ASN1_OBJECT_free> oid(OBJ_txt2obj(dotted, 1));
    ASSERT_NE(oid, nullptr) << dotted;
    EXPECT_EQ(ossl::oid_dotted(oid.get()), dotted);
  }
}

TEST(OidDotted, ContentThatIsNotMinimalOrEndsMidArcIsOpenSslsText) {
  // Built without OpenSSL's parser, which would refuse them: oid_dotted then
  // says what OBJ_obj2txt says, never a reading of its own.
  for (const std::vector<uint8_t>& content : {std::vector<uint8_t>{0x2a, 0x80, 0x01}, std::vector<uint8_t>{0x2a, 0x86},
                                               std::vector<uint8_t>{0x80, 0x01}}) {
    auto oid = oid_of_content(content);
    if (!oid) GTEST_SKIP() << "skipped: this OpenSSL does not build an OID from raw content";
    EXPECT_EQ(ossl::oid_dotted(oid.get()), openssl_text(oid.get()));
  }
  ERR_clear_error();
}

TEST(OidDotted, NoOidIsEmpty) { EXPECT_EQ(ossl::oid_dotted(nullptr), ""); }

TEST(Sha256Md, IsSha256) {
  const EVP_MD* md = ossl::sha256_md();
  ASSERT_NE(md, nullptr);
  EXPECT_EQ(ossl::sha256_md(), md);  // fetched once
  EXPECT_TRUE(EVP_MD_is_a(md, "SHA2-256"));
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest("abc", 3, out, &len, md, nullptr), 1);
  EXPECT_EQ(bpfsig::to_hex(bpfsig::ByteView(out, len)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
