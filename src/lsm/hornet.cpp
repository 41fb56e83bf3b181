// SPDX-License-Identifier: Apache-2.0
// The Hornet LSM, modelled on security/hornet/hornet_lsm.c: the final design
// (superna9999/linux) and, behind HornetOptions::design, v7
// (vladimiroltean/linux). The order of the checks and the verdict each one
// gives follow hornet_check_program(); docs/hornet.md has the table.
#include "bpfsig/hornet.h"

#include <algorithm>
#include <cerrno>

#include "bpfsig/error.h"

namespace bpfsig::lsm {

namespace {

constexpr int kBpfProgRun = 10;  // BPF_PROG_RUN (BPF_PROG_TEST_RUN)
constexpr size_t kV7MaxMaps = crypto::kHornetMaxMaps - 1;  // v7's `++hash_count >= MAX_USED_MAPS`

HornetSigCheck verdict(HornetSigCheck c, IntegrityVerdict v, std::string kind, std::string detail) {
  c.verdict = v;
  c.kind = std::move(kind);
  c.detail = std::move(detail);
  return c;
}

std::vector<crypto::Certificate> parse_keyring(const std::vector<Bytes>& ders) {
  std::vector<crypto::Certificate> certs;
  for (const Bytes& der : ders) {
    try {
      certs.push_back(crypto::parse_certificate(der, "keyring certificate"));
    } catch (const Error&) {
      // A key the keyring holds but that is not an X.509 certificate cannot vouch.
    }
  }
  return certs;
}

// The attribute as this design's kernel decoder reads it: the other design's
// encoding does not match its grammar, which the decoder fails.
HornetSigCheck decode_for_design(HornetSigCheck c, const crypto::HornetAttribute& attribute, HornetDesign design) {
  const crypto::HornetFormat wanted = design == HornetDesign::kFinal ? crypto::HornetFormat::kFinal : crypto::HornetFormat::kV7;
  const bool empty = attribute.maps.empty();  // an empty SET reads the same in both grammars
  if (!empty && attribute.format != wanted)
    return verdict(std::move(c), IntegrityVerdict::kBadSig, "hornet_asn1",
                   "the Hornet attribute is in the " + crypto::hornet_format_name(attribute.format) + " format; the " +
                       hornet_design_name(design) + " design cannot decode it");
  const size_t limit = design == HornetDesign::kFinal ? crypto::kHornetMaxMaps : kV7MaxMaps;
  if (attribute.maps.size() > limit)
    return verdict(std::move(c), IntegrityVerdict::kBadSig, "hornet_too_many_maps",
                   std::to_string(attribute.maps.size()) + " map hashes; the " + hornet_design_name(design) +
                       " design decodes at most " + std::to_string(limit));
  for (size_t i = 0; i < attribute.maps.size(); ++i) {
    const Bytes& sha = attribute.maps[i].sha;
    if (!sha.empty() && sha.size() != 32)
      return verdict(std::move(c), IntegrityVerdict::kBadSig, "hornet_asn1",
                     "map " + std::to_string(i) + ": a hash of " + std::to_string(sha.size()) + " bytes (0 or 32 expected)");
    Sha256 h{};
    std::copy(sha.begin(), sha.end(), h.begin());  // the final design stores an empty sha as zeros
    c.signed_hashes.push_back(h);
  }
  c.attribute = attribute;
  return verdict(std::move(c), IntegrityVerdict::kOk, "ok",
                 "signature good; " + std::to_string(attribute.maps.size()) + " signed map hash(es)");
}

}  // namespace

std::string hornet_design_name(HornetDesign d) { return d == HornetDesign::kFinal ? "final" : "v7"; }

HornetDesign parse_hornet_design(const std::string& name) {
  if (name == "final") return HornetDesign::kFinal;
  if (name == "v7") return HornetDesign::kV7;
  throw Error(EINVAL, "bad_argument", "unknown Hornet design '" + name + "' (final or v7)");
}

HornetSigCheck hornet_check_signature(ByteView insns, const std::optional<Bytes>& signature,
                                      const std::optional<std::vector<Bytes>>& keyring, HornetDesign design) {
  std::optional<crypto::KernelMessage> message;
  if (signature) message.emplace(*signature);
  std::optional<std::vector<crypto::Certificate>> certs;
  if (keyring) certs = parse_keyring(*keyring);
  return hornet_check_message(insns, message ? &*message : nullptr, certs ? &*certs : nullptr, design);
}

HornetSigCheck hornet_check_message(ByteView insns, const crypto::KernelMessage* message,
                                    const std::vector<crypto::Certificate>* keyring, HornetDesign design) {
  HornetSigCheck c;
  if (message == nullptr) return verdict(std::move(c), IntegrityVerdict::kUnsigned, "unsigned", "no signature (attr->signature == 0)");
  if (message->size() == 0)
    return verdict(std::move(c), IntegrityVerdict::kBadSig, "empty_signature", "a signature pointer with signature_size 0");
  const crypto::SigCheck& parsed = message->parse_check();
  if (parsed.err != 0) {
    c.signature = parsed;
    return verdict(std::move(c), IntegrityVerdict::kBadSig, "cms_parse", "pkcs7_parse_message() fails: " + parsed.detail);
  }
  if (keyring == nullptr)
    return verdict(std::move(c), IntegrityVerdict::kUnknownKey, "unknown_keyring", "lookup_user_key() finds no such keyring");
  c.signature = message->verify(insns, *keyring);
  if (c.signature.err != 0)
    return verdict(std::move(c), IntegrityVerdict::kBadSig, "bad_signature",
                   "verify_pkcs7_message_sig() fails (" + errno_name(c.signature.err) + ", " + c.signature.kind + "): " +
                       c.signature.detail);
  const std::optional<crypto::HornetAttribute>* attribute = nullptr;
  try {
    attribute = &message->hornet_attribute();
  } catch (const Error& e) {
    return verdict(std::move(c), IntegrityVerdict::kBadSig, "hornet_asn1", e.what());
  }
  if (!*attribute)
    return verdict(std::move(c), IntegrityVerdict::kPartialSig, "no_hornet_attribute",
                   "signature good over the instructions, but it carries no Hornet attribute: the maps are not covered");
  return decode_for_design(std::move(c), **attribute, design);
}

// ---- the LSM --------------------------------------------------------------------------

HornetLsm::Blob::Blob(std::shared_ptr<size_t> live) : live_(std::move(live)) { ++*live_; }
HornetLsm::Blob::~Blob() { --*live_; }

namespace {
HookSet hornet_hooks(HornetDesign design) {
  // LSM_HOOK_INIT lists: final {bpf_prog_load_integrity, bpf_prog}; v7 {bpf_prog_load_integrity, bpf}.
  return hook_bit(Hook::kBpfProgLoadIntegrity) | hook_bit(design == HornetDesign::kFinal ? Hook::kBpfProg : Hook::kBpf);
}
}  // namespace

HornetLsm::HornetLsm(HornetOptions options)
    : Lsm({"hornet", LsmId::kHornet}, hornet_hooks(options.design)), options_(options) {}

std::unique_ptr<ProgBlob> HornetLsm::new_prog_blob() const { return std::make_unique<Blob>(live_); }

std::optional<std::vector<Bytes>> HornetLsm::keyring(int32_t keyring_id) const {
  KernelServices* kernel = stack().kernel_services();
  if (kernel == nullptr) return std::nullopt;  // no kernel: no keyring can be looked up
  return kernel->keyring_certs(keyring_id);
}

std::optional<Sha256> HornetLsm::current_hash(const MapView& map) const {
  if (KernelServices* kernel = stack().kernel_services()) return kernel->map_hash(map.id);
  return map.hash;  // without a kernel, the map->sha the view carries
}

// hornet_verify_hashes() (v7): each non-skipped entry names an fd_array slot;
// the map there must be frozen, hashable and hash to the signed value.
IntegrityVerdict HornetLsm::verify_v7_maps(const ProgLoadAttr& attr, const crypto::HornetAttribute& attribute,
                                           Blob& b) const {
  KernelServices* kernel = stack().kernel_services();
  for (size_t i = 0; i < attribute.maps.size(); ++i) {
    const crypto::HornetMapHash& entry = attribute.maps[i];
    if (entry.sha.empty()) continue;
    const std::string which = "map " + std::to_string(i) + " (fd_array[" + std::to_string(entry.index) + "])";
    auto fault = [&](const std::string& why) {
      b.kind = "fault";
      b.detail = which + ": " + why;
      return IntegrityVerdict::kFault;
    };
    // The model knows only the fd_array entries given; the kernel would read
    // further into user memory, which the model treats as unreadable.
    if (entry.index >= attr.fd_array.size()) return fault("the slot is past the fd_array the caller passed");
    std::optional<MapView> map = kernel ? kernel->map_by_fd(attr.fd_array[entry.index]) : std::nullopt;
    if (!map) return fault("fd " + std::to_string(attr.fd_array[entry.index]) + " is not a map");
    if (!map->frozen) return fault("the map is not frozen");
    if (!map->hash) return fault("the map type has no map_get_hash");
    if (!std::equal(map->hash->begin(), map->hash->end(), entry.sha.begin(), entry.sha.end())) {
      b.kind = "map_hash_mismatch";
      b.detail = which + ": the map's hash " + to_hex(*map->hash) + " is not the signed " + to_hex(entry.sha);
      return IntegrityVerdict::kUnexpected;
    }
    Sha256 h{};
    std::copy(entry.sha.begin(), entry.sha.end(), h.begin());
    b.signed_hashes.push_back(h);
  }
  return IntegrityVerdict::kOk;
}

int HornetLsm::bpf_prog_load_integrity(ProgView& prog, const ProgLoadAttr& attr, const Token* token, bool kernel) {
  Blob* b = blob<Blob>(prog);
  std::optional<std::vector<Bytes>> certs;
  if (attr.signature && !attr.signature->empty()) {
    // system_keyring_id_check(): 0, 1, 2 are the system keyrings; the rest
    // (negative ids too, as u64) go through lookup_user_key().
    certs = keyring(attr.keyring_id);
  }
  HornetSigCheck c = hornet_check_signature(prog.insns, attr.signature, certs, options_.design);
  IntegrityVerdict v = c.verdict;
  if (b != nullptr) {
    b->kind = c.kind;
    b->detail = c.detail;
  }
  if (v == IntegrityVerdict::kOk && b != nullptr) {
    if (options_.design == HornetDesign::kFinal)
      b->signed_hashes = c.signed_hashes;
    else
      v = verify_v7_maps(attr, *c.attribute, *b);
  }
  if (b != nullptr) b->verdict = v;
  return report_integrity(prog, attr, token, kernel, v);
}

// hornet_check_prog_maps() (final): when the program is published, after the
// verifier filled used_maps.
int HornetLsm::bpf_prog(ProgView& prog) {
  const Blob* b = blob<Blob>(prog);
  if (b == nullptr || b->signed_hashes.empty()) return 0;
  for (const Sha256& wanted : b->signed_hashes) {
    bool found = false;
    for (const MapView& map : prog.used_maps) {
      if (!map.frozen) continue;
      std::optional<Sha256> hash = current_hash(map);
      if (hash && *hash == wanted) {
        found = true;
        break;
      }
    }
    if (!found) return -EPERM;
  }
  return 0;
}

// hornet_check_prog_maps(ufd) (v7): every frozen, hashable used map must be
// signed, and every signed hash covered.
int HornetLsm::check_used_maps_v7(ProgView& prog) const {
  const Blob* b = blob<Blob>(prog);
  if (b == nullptr || b->signed_hashes.empty()) return 0;
  size_t covered = 0;
  for (const MapView& map : prog.used_maps) {
    if (!map.frozen) continue;
    std::optional<Sha256> hash = current_hash(map);
    if (!hash) continue;
    if (std::find(b->signed_hashes.begin(), b->signed_hashes.end(), *hash) == b->signed_hashes.end()) return -EPERM;
    ++covered;
  }
  return covered == b->signed_hashes.size() ? 0 : -EPERM;
}

int HornetLsm::bpf(int cmd, ByteView attr, unsigned, bool kernel) {
  // Commands from the kernel (a loader's bpf_sys_bpf) are trusted as checked already.
  if (cmd != kBpfProgRun || kernel || options_.design != HornetDesign::kV7) return 0;
  KernelServices* services = stack().kernel_services();
  if (services == nullptr || attr.size() < 4) return 0;  // nothing to resolve the program with
  int err = 0;
  ProgView* prog = services->prog_by_fd(static_cast<int32_t>(load_le32(attr.data())), &err);  // attr->test.prog_fd
  if (prog == nullptr) return -err;
  return check_used_maps_v7(*prog);
}

}  // namespace bpfsig::lsm
