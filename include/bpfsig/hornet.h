// SPDX-License-Identifier: Apache-2.0
// The Hornet LSM (security/hornet/ of the Hornet series, LSM_ID_HORNET 114)
// in the LSM model: it checks a BPF program's PKCS#7 signature at
// bpf_prog_load_integrity, reports the verdict through
// security_bpf_prog_load_post_integrity, keeps the signed map hashes in its
// prog blob and checks them against the program's maps later. Two designs:
// the final one (hashes matched against the frozen used maps when the program
// is published, the bpf_prog hook) and v7 (indexed hashes resolved through
// fd_array at load time, used maps re-checked at BPF_PROG_RUN through the bpf
// hook). docs/hornet.md.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bpfsig/crypto.h"
#include "bpfsig/lsm.h"

namespace bpfsig::lsm {

enum class HornetDesign { kFinal, kV7 };
std::string hornet_design_name(HornetDesign d);             // "final", "v7"
HornetDesign parse_hornet_design(const std::string& name);  // throws Error(EINVAL, "bad_argument")

struct HornetOptions {
  HornetDesign design = HornetDesign::kFinal;
};

// The part of hornet_check_program() that needs neither the program object
// nor the caller's fds: what `bpfsig verify` reports offline as well.
struct HornetSigCheck {
  IntegrityVerdict verdict = IntegrityVerdict::kNone;
  // "unsigned", "empty_signature", "cms_parse", "unknown_keyring",
  // "bad_signature", "no_hornet_attribute", "hornet_asn1",
  // "hornet_too_many_maps", "ok".
  std::string kind;
  std::string detail;
  crypto::SigCheck signature;                      // verify_pkcs7_message_sig, once it ran
  std::optional<crypto::HornetAttribute> attribute;  // once it decoded for this design
  // The hashes the final design keeps (an empty sha becomes 32 zero bytes).
  std::vector<Sha256> signed_hashes;
};

// Steps of hornet_check_program() in its order: no signature -> UNSIGNED;
// signature_size 0 -> BADSIG; pkcs7_parse_message() fails -> BADSIG; the
// keyring (nullopt: lookup_user_key failed) -> UNKNOWNKEY; the signature over
// insns fails (any reason, an unknown signer too) -> BADSIG; no Hornet
// attribute -> PARTIALSIG; the attribute not this design's ASN.1, a hash
// neither 0 nor 32 bytes, or too many maps (final: over 64; v7: 64 or more)
// -> BADSIG; else OK (v7 then checks the maps through fd_array).
HornetSigCheck hornet_check_signature(ByteView insns, const std::optional<Bytes>& signature,
                                      const std::optional<std::vector<Bytes>>& keyring, HornetDesign design);

// The same steps on a signature decoded once (nullptr: no signature) and a
// keyring of parsed certificates (nullptr: no such keyring): `bpfsig verify`
// asks the message for its design first and hands it over, so neither the
// CMS nor the certificates are decoded again.
HornetSigCheck hornet_check_message(ByteView insns, const crypto::KernelMessage* message,
                                    const std::vector<crypto::Certificate>* keyring, HornetDesign design);

class HornetLsm : public Lsm {
 public:
  // struct hornet_prog_security_struct, plus the verdict for inspection.
  struct Blob : ProgBlob {
    explicit Blob(std::shared_ptr<size_t> live);
    ~Blob() override;
    Blob(const Blob&) = delete;
    Blob& operator=(const Blob&) = delete;
    std::vector<Sha256> signed_hashes;  // signed_hash_count entries
    std::optional<IntegrityVerdict> verdict;
    std::string kind, detail;  // why (HornetSigCheck::kind, or the v7 map check's)

   private:
    std::shared_ptr<size_t> live_;
  };

  explicit HornetLsm(HornetOptions options = {});
  const HornetOptions& options() const { return options_; }

  std::unique_ptr<ProgBlob> new_prog_blob() const override;
  int bpf_prog_load_integrity(ProgView& prog, const ProgLoadAttr& attr, const Token* token, bool kernel) override;
  // Final design: every signed hash must be the hash of some frozen used map, else -EPERM.
  int bpf_prog(ProgView& prog) override;
  // v7 design: BPF_PROG_RUN from user space re-checks the program's maps.
  int bpf(int cmd, ByteView attr, unsigned size, bool kernel) override;

  // This LSM's blob on prog (nullptr when none is allocated).
  const Blob* hornet_blob(ProgView& prog) const { return blob<Blob>(prog); }
  // Blobs allocated and not yet freed, over every program.
  size_t live_blobs() const { return *live_; }

 private:
  std::optional<std::vector<Bytes>> keyring(int32_t keyring_id) const;
  IntegrityVerdict verify_v7_maps(const ProgLoadAttr& attr, const crypto::HornetAttribute& attribute, Blob& blob) const;
  std::optional<Sha256> current_hash(const MapView& map) const;
  int check_used_maps_v7(ProgView& prog) const;

  HornetOptions options_;
  std::shared_ptr<size_t> live_ = std::make_shared<size_t>(0);
};

}  // namespace bpfsig::lsm
