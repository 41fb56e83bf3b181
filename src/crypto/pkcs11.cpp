// SPDX-License-Identifier: Apache-2.0
// Keys in a PKCS#11 token (docs/crypto.md, "Keys in a token").
//
// Two layers, each doing what only it can:
// - bpfsig calls the module itself (dlopen, C_GetFunctionList) to find the
//   token and the object and to log in, so that a wrong PIN, a missing object
//   or a missing module is one precise error (the engine reports all of them
//   as "cannot load the key"), and to make key pairs in the token (the engine
//   cannot generate keys);
// - OpenSSL's pkcs11 engine (libp11, Debian's libengine-pkcs11-openssl) turns
//   the object found into an EVP_PKEY whose private operations run in the
//   token, so CMS, the seal and X509_sign use it as they use a key file.
// The ENGINE API is deprecated in OpenSSL 3, but Debian 12 ships no pkcs11
// provider (pkcs11-provider is in Debian 13 only): docs/crypto.md.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <dlfcn.h>
#include <openssl/core_names.h>
#include <openssl/engine.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <p11-kit/pkcs11.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <mutex>

#include "bpfsig/crypto.h"
#include "bpfsig/files.h"
#include "crypto/ossl.h"
#include "crypto/selfsigned.h"

namespace bpfsig::crypto {

namespace {

// ---- the module -------------------------------------------------------------

struct Module {
  CK_FUNCTION_LIST_PTR f = nullptr;
};

std::string ckr_name(CK_RV rv) {
  switch (rv) {
    case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT";
    case CKR_PIN_INVALID: return "CKR_PIN_INVALID";
    case CKR_PIN_LEN_RANGE: return "CKR_PIN_LEN_RANGE";
    case CKR_PIN_LOCKED: return "CKR_PIN_LOCKED";
    case CKR_PIN_EXPIRED: return "CKR_PIN_EXPIRED";
    case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
    case CKR_TOKEN_WRITE_PROTECTED: return "CKR_TOKEN_WRITE_PROTECTED";
    case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID";
    case CKR_DEVICE_MEMORY: return "CKR_DEVICE_MEMORY";
    case CKR_USER_NOT_LOGGED_IN: return "CKR_USER_NOT_LOGGED_IN";
    case CKR_GENERAL_ERROR: return "CKR_GENERAL_ERROR";
    default: break;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "CKR 0x%lx", static_cast<unsigned long>(rv));
  return buf;
}

Error token_failure(const std::string& uri, const std::string& what, CK_RV rv) {
  return Error(EIO, "pkcs11", uri + ": " + what + " failed (" + ckr_name(rv) + ")");
}

// Modules stay loaded and initialized for the life of the process: the
// engine loads the same library (dlopen gives the same instance), and a
// C_Finalize here would end the engine's sessions too.
const Module& open_module(const std::string& path, const std::string& uri) {
  static std::mutex mu;
  static std::map<std::string, Module> modules;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = modules.find(path); it != modules.end()) return it->second;
  if (::access(path.c_str(), F_OK) != 0)
    throw Error(ENOENT, "pkcs11_module", uri + ": PKCS#11 module " + path + " does not exist");
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) throw Error(ENOEXEC, "pkcs11_module", uri + ": cannot load PKCS#11 module " + path + ": " + ::dlerror());
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(handle, "C_GetFunctionList"));
  Module m;
  if (get_list == nullptr || get_list(&m.f) != CKR_OK || m.f == nullptr) {
    ::dlclose(handle);
    throw Error(ENOEXEC, "pkcs11_module", uri + ": " + path + " is not a PKCS#11 module (no C_GetFunctionList)");
  }
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  CK_RV rv = m.f->C_Initialize(&args);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) throw token_failure(uri, "C_Initialize of " + path, rv);
  return modules.emplace(path, m).first->second;
}

// ---- the token ----------------------------------------------------------------

// CK_TOKEN_INFO's fixed-size, blank-padded text fields.
template <size_t N>
std::string padded_field(const CK_UTF8CHAR (&field)[N]) {
  std::string s(reinterpret_cast<const char*>(field), N);
  s.erase(s.find_last_not_of(' ') + 1);
  return s;
}

struct Token {
  CK_SLOT_ID slot = 0;
  CK_TOKEN_INFO info{};
  std::string label() const { return padded_field(info.label); }
  std::string serial() const { return padded_field(info.serialNumber); }
};

bool token_matches(const Pkcs11Uri& u, CK_SLOT_ID slot, const CK_TOKEN_INFO& info) {
  if (!(info.flags & CKF_TOKEN_INITIALIZED)) return false;  // SoftHSM2 always offers one empty slot
  if (u.slot_id && *u.slot_id != slot) return false;
  if (!u.token.empty() && padded_field(info.label) != u.token) return false;
  if (!u.manufacturer.empty() && padded_field(info.manufacturerID) != u.manufacturer) return false;
  if (!u.serial.empty() && padded_field(info.serialNumber) != u.serial) return false;
  if (!u.model.empty() && padded_field(info.model) != u.model) return false;
  return true;
}

Token find_token(const Module& m, const Pkcs11Uri& u) {
  CK_ULONG count = 0;
  CK_RV rv = m.f->C_GetSlotList(CK_TRUE, nullptr, &count);
  std::vector<CK_SLOT_ID> slots(count);
  if (rv == CKR_OK && count > 0) rv = m.f->C_GetSlotList(CK_TRUE, slots.data(), &count);
  if (rv != CKR_OK) throw token_failure(u.text, "C_GetSlotList", rv);
  slots.resize(count);
  std::vector<Token> found;
  for (CK_SLOT_ID slot : slots) {
    Token t{slot, {}};
    if (m.f->C_GetTokenInfo(slot, &t.info) == CKR_OK && token_matches(u, slot, t.info)) found.push_back(t);
  }
  if (found.empty()) throw Error(ENOENT, "pkcs11_token", u.text + ": no initialized token matches");
  if (found.size() > 1)
    throw Error(EINVAL, "pkcs11_token",
                u.text + ": " + std::to_string(found.size()) + " tokens match: name one with token= or serial=");
  return found.front();
}

class Session {
 public:
  Session(const Module& m, const Token& t, bool rw, const std::string& uri) : f_(m.f) {
    CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
    CK_RV rv = f_->C_OpenSession(t.slot, flags, nullptr, nullptr, &h_);
    if (rv != CKR_OK) throw token_failure(uri, "C_OpenSession", rv);
  }
  ~Session() { f_->C_CloseSession(h_); }  // the last session closed logs the user out
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  CK_FUNCTION_LIST_PTR f() const { return f_; }
  CK_SESSION_HANDLE h() const { return h_; }

 private:
  CK_FUNCTION_LIST_PTR f_;
  CK_SESSION_HANDLE h_ = 0;
};

bool is_pin_refusal(CK_RV rv) {
  return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE || rv == CKR_PIN_LOCKED ||
         rv == CKR_PIN_EXPIRED;
}

// A PKCS#11 login holds for the whole process while any of its sessions is
// open, and the engine keeps the sessions of the keys it loaded: a later
// C_Login answers CKR_USER_ALREADY_LOGGED_IN whatever the PIN. So the PIN
// that logged in is remembered (its SHA-256, per token) and another PIN is
// refused as the token would have refused it.
void check_same_pin(const Token& t, const std::string& pin, bool logged_in_now, const std::string& uri) {
  static std::mutex mu;
  static std::map<std::string, Digest> pins;  // token serial -> SHA-256 of the PIN
  std::lock_guard<std::mutex> lock(mu);
  const Digest digest = sha256(ByteView(reinterpret_cast<const uint8_t*>(pin.data()), pin.size()));
  const std::string serial = t.serial() + "/" + t.label();
  auto it = pins.find(serial);
  if (logged_in_now || it == pins.end()) {
    pins[serial] = digest;
    return;
  }
  if (it->second != digest)
    throw Error(EACCES, "pkcs11_pin", uri + ": wrong PIN (not the one this process logged in to the token with)");
}

void login(const Session& s, const Token& t, const std::string& pin, const std::string& uri) {
  if (!(t.info.flags & CKF_LOGIN_REQUIRED)) return;
  if (pin.empty())
    throw Error(EACCES, "pkcs11_pin", uri + ": the token needs a PIN: --pin-source FILE, the URI's pin-source or BPFSIG_PIN");
  std::string copy = pin;  // C_Login takes a non-const pointer
  CK_RV rv = s.f()->C_Login(s.h(), CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(copy.data()), copy.size());
  OPENSSL_cleanse(copy.data(), copy.size());
  if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
    check_same_pin(t, pin, rv == CKR_OK, uri);
    return;
  }
  if (is_pin_refusal(rv)) throw Error(EACCES, "pkcs11_pin", uri + ": the token refused the PIN (" + ckr_name(rv) + ")");
  throw token_failure(uri, "C_Login", rv);
}

// ---- objects --------------------------------------------------------------------

CK_BBOOL kTrue = CK_TRUE;
CK_BBOOL kFalse = CK_FALSE;

CK_ATTRIBUTE attr(CK_ATTRIBUTE_TYPE type, const void* value, size_t len) {
  return CK_ATTRIBUTE{type, const_cast<void*>(value), static_cast<CK_ULONG>(len)};
}

// Objects of a class with the URI's label and id (each when given).
std::vector<CK_OBJECT_HANDLE> find_objects(const Session& s, CK_OBJECT_CLASS cls, const Pkcs11Uri& u,
                                           bool label, bool id) {
  std::vector<CK_ATTRIBUTE> tmpl{attr(CKA_CLASS, &cls, sizeof cls)};
  if (label && !u.object.empty()) tmpl.push_back(attr(CKA_LABEL, u.object.data(), u.object.size()));
  if (id && u.has_id) tmpl.push_back(attr(CKA_ID, u.id.data(), u.id.size()));
  CK_RV rv = s.f()->C_FindObjectsInit(s.h(), tmpl.data(), tmpl.size());
  if (rv != CKR_OK) throw token_failure(u.text, "C_FindObjectsInit", rv);
  std::vector<CK_OBJECT_HANDLE> out;
  CK_OBJECT_HANDLE batch[16];
  CK_ULONG n = 0;
  while ((rv = s.f()->C_FindObjects(s.h(), batch, 16, &n)) == CKR_OK && n > 0) out.insert(out.end(), batch, batch + n);
  s.f()->C_FindObjectsFinal(s.h());
  if (rv != CKR_OK) throw token_failure(u.text, "C_FindObjects", rv);
  return out;
}

Bytes attribute_bytes(const Session& s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type, const std::string& uri) {
  CK_ATTRIBUTE a = attr(type, nullptr, 0);
  CK_RV rv = s.f()->C_GetAttributeValue(s.h(), obj, &a, 1);
  if (rv != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION) throw token_failure(uri, "C_GetAttributeValue", rv);
  Bytes out(a.ulValueLen);
  a.pValue = out.data();
  rv = s.f()->C_GetAttributeValue(s.h(), obj, &a, 1);
  if (rv != CKR_OK) throw token_failure(uri, "C_GetAttributeValue", rv);
  out.resize(a.ulValueLen);
  return out;
}

// RFC 7512 percent-encoding of every byte outside the unreserved set.
std::string pct(ByteView bytes) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (uint8_t b : bytes) {
    if (std::isalnum(b) || b == '-' || b == '.' || b == '_' || b == '~') {
      out.push_back(static_cast<char>(b));
    } else {
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
    }
  }
  return out;
}
std::string pct(const std::string& s) { return pct(ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size())); }

// An id is binary: every byte as %XX.
std::string pct_all(ByteView bytes) {
  std::string out;
  for (uint8_t b : bytes) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%%%02X", b);
    out += buf;
  }
  return out;
}

// A URI naming exactly one private key: the token by serial and label, the
// key by id (or by label when it has no id). It carries no PIN or module.
std::string canonical_uri(const Token& t, const std::string& label, const Bytes& id) {
  std::string uri = "pkcs11:token=" + pct(t.label()) + ";serial=" + pct(t.serial());
  if (!label.empty()) uri += ";object=" + pct(label);
  if (!id.empty()) uri += ";id=" + pct_all(id);
  return uri + ";type=private";
}

// ---- the engine -----------------------------------------------------------------

struct EngineState {
  std::mutex mu;
  ENGINE* engine = nullptr;  // a functional reference, kept for the process
  std::string module;
};

EngineState& engine_state() {
  static EngineState state;
  return state;
}

// libp11 loads one module per engine, when it is first used.
ENGINE* pkcs11_engine(const std::string& module, const std::string& uri) {
  EngineState& st = engine_state();
  if (st.engine != nullptr) {
    if (st.module != module)
      throw Error(EINVAL, "pkcs11_module",
                  uri + ": the pkcs11 engine already uses " + st.module + " in this process, not " + module);
    return st.engine;
  }
  ENGINE* e = ENGINE_by_id("pkcs11");
  if (e == nullptr) {
    ossl::drain_errors();
    throw Error(ENOENT, "pkcs11_engine",
                uri + ": OpenSSL's pkcs11 engine is not installed (Debian: libengine-pkcs11-openssl)");
  }
  ENGINE_ctrl_cmd_string(e, "QUIET", nullptr, 1);  // libp11 would print its own lines on stderr
  const bool ok = ENGINE_ctrl_cmd_string(e, "MODULE_PATH", module.c_str(), 0) == 1 && ENGINE_init(e) == 1;
  ENGINE_free(e);  // the structural reference; ENGINE_init took a functional one
  if (!ok) throw ossl::failure(EIO, "pkcs11_engine", uri + ": cannot start the pkcs11 engine with " + module);
  st.engine = e;
  st.module = module;
  return e;
}

PrivateKey engine_private_key(const std::string& module, const std::string& canonical, const std::string& pin,
                              const std::string& uri) {
  EngineState& st = engine_state();
  std::lock_guard<std::mutex> lock(st.mu);
  ENGINE* e = pkcs11_engine(module, uri);
  // The PIN goes through the engine's control, never into a URI string.
  if (!pin.empty() && ENGINE_ctrl_cmd_string(e, "PIN", pin.c_str(), 0) != 1)
    throw ossl::failure(EIO, "pkcs11_engine", uri + ": the pkcs11 engine does not take a PIN");
  EVP_PKEY* key = ENGINE_load_private_key(e, canonical.c_str(), nullptr, nullptr);
  if (key == nullptr) throw ossl::failure(EIO, "pkcs11", uri + ": the pkcs11 engine cannot load the key");
  return PrivateKey(key);
}

void require_type(const Pkcs11Uri& u) {
  if (!u.type.empty() && u.type != "private")
    throw Error(EINVAL, "pkcs11_uri", u.text + ": type=" + u.type + " names no private key (use type=private or none)");
}

// ---- keygen ---------------------------------------------------------------------

// DER OIDs of the curves, as CKA_EC_PARAMS holds them.
const Bytes kP256Oid = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
const Bytes kP384Oid = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

bool is_rsa(KeyAlgo a) { return a == KeyAlgo::kRsa2048 || a == KeyAlgo::kRsa3072 || a == KeyAlgo::kRsa4096; }

CK_ULONG rsa_bits(KeyAlgo a) { return a == KeyAlgo::kRsa4096 ? 4096 : a == KeyAlgo::kRsa3072 ? 3072 : 2048; }

struct NewPair {
  CK_OBJECT_HANDLE pub = 0, priv = 0;
};

NewPair generate_pair(const Session& s, KeyAlgo algo, const std::string& label, const Bytes& id, const std::string& uri) {
  static const uint8_t kExponent[] = {0x01, 0x00, 0x01};
  const CK_ULONG bits = rsa_bits(algo);
  const Bytes& curve = algo == KeyAlgo::kP384 ? kP384Oid : kP256Oid;
  std::vector<CK_ATTRIBUTE> pub{attr(CKA_TOKEN, &kTrue, 1), attr(CKA_VERIFY, &kTrue, 1),
                                attr(CKA_LABEL, label.data(), label.size()), attr(CKA_ID, id.data(), id.size())};
  std::vector<CK_ATTRIBUTE> priv{attr(CKA_TOKEN, &kTrue, 1),       attr(CKA_PRIVATE, &kTrue, 1),
                                 attr(CKA_SENSITIVE, &kTrue, 1),   attr(CKA_EXTRACTABLE, &kFalse, 1),
                                 attr(CKA_SIGN, &kTrue, 1),        attr(CKA_LABEL, label.data(), label.size()),
                                 attr(CKA_ID, id.data(), id.size())};
  CK_MECHANISM mech{is_rsa(algo) ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  if (is_rsa(algo)) {
    pub.push_back(attr(CKA_MODULUS_BITS, &bits, sizeof bits));
    pub.push_back(attr(CKA_PUBLIC_EXPONENT, kExponent, sizeof kExponent));
  } else {
    pub.push_back(attr(CKA_EC_PARAMS, curve.data(), curve.size()));
  }
  NewPair p;
  CK_RV rv = s.f()->C_GenerateKeyPair(s.h(), &mech, pub.data(), pub.size(), priv.data(), priv.size(), &p.pub, &p.priv);
  if (rv != CKR_OK) throw token_failure(uri, "C_GenerateKeyPair (" + key_algo_name(algo) + ")", rv);
  return p;
}

// The public half, read from the token's public key object.
ossl::Pkey public_key(const Session& s, CK_OBJECT_HANDLE pub, KeyAlgo algo, const std::string& uri) {
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
  ossl::Bignum n, e;
  Bytes point;
  if (is_rsa(algo)) {
    Bytes nb = attribute_bytes(s, pub, CKA_MODULUS, uri), eb = attribute_bytes(s, pub, CKA_PUBLIC_EXPONENT, uri);
    n.reset(BN_bin2bn(nb.data(), static_cast<int>(nb.size()), nullptr));
    e.reset(BN_bin2bn(eb.data(), static_cast<int>(eb.size()), nullptr));
    if (!bld || !n || !e || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1)
      throw ossl::failure(EIO, "pkcs11", uri + ": cannot read the new RSA public key");
  } else {
    // CKA_EC_POINT is the point wrapped in a DER OCTET STRING.
    point = ossl::der_content(attribute_bytes(s, pub, CKA_EC_POINT, uri));
    const char* group = algo == KeyAlgo::kP384 ? "P-384" : "P-256";
    if (!bld || point.empty() || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1)
      throw ossl::failure(EIO, "pkcs11", uri + ": cannot read the new EC public key");
  }
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld.get()), OSSL_PARAM_free);
  ossl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, is_rsa(algo) ? "RSA" : "EC", nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    throw ossl::failure(EIO, "pkcs11", uri + ": cannot build the new public key");
  return ossl::Pkey(key);
}

void store_certificate(const Session& s, X509* cert, const std::string& label, const Bytes& id,
                                   const std::string& uri) {
  CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
  CK_CERTIFICATE_TYPE type = CKC_X_509;
  Bytes der = certificate_der(cert);
  Bytes subject = ossl::der_of(X509_get_subject_name(cert), i2d_X509_NAME);
  std::vector<CK_ATTRIBUTE> tmpl{attr(CKA_CLASS, &cls, sizeof cls),      attr(CKA_CERTIFICATE_TYPE, &type, sizeof type),
                                 attr(CKA_TOKEN, &kTrue, 1),             attr(CKA_LABEL, label.data(), label.size()),
                                 attr(CKA_ID, id.data(), id.size()),     attr(CKA_SUBJECT, subject.data(), subject.size()),
                                 attr(CKA_VALUE, der.data(), der.size())};
  CK_OBJECT_HANDLE h = 0;
  CK_RV rv = s.f()->C_CreateObject(s.h(), tmpl.data(), tmpl.size(), &h);
  if (rv != CKR_OK) throw token_failure(uri, "C_CreateObject (certificate)", rv);
}

void refuse_existing(const Session& s, const Pkcs11Uri& u) {
  for (CK_OBJECT_CLASS cls : {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE}) {
    if (!find_objects(s, cls, u, /*label=*/true, /*id=*/false).empty() ||
        (u.has_id && !find_objects(s, cls, u, /*label=*/false, /*id=*/true).empty()))
      throw Error(EEXIST, "pkcs11_object_exists", u.text + ": the token already has an object with this label or id");
  }
}

Bytes random_id() {
  Bytes id(16);
  if (RAND_bytes(id.data(), static_cast<int>(id.size())) != 1) throw ossl::failure(EIO, "keygen", "no randomness for the key id");
  return id;
}

// Opens the module and finds the one token the URI names.
struct TokenAccess {
  const Module* module;
  std::string module_path;
  Token token;
};
TokenAccess open_token(const Pkcs11Uri& u, const Pkcs11Access& access) {
  TokenAccess t;
  t.module_path = pkcs11_module_path(u, access);
  t.module = &open_module(t.module_path, u.text);
  t.token = find_token(*t.module, u);
  return t;
}

// Undoes a keygen: the objects with its label and id, which keygen checked
// were not there before. Found again rather than kept as handles: a module
// may renumber a token's objects once all sessions are closed (SoftHSM2
// does). Best effort, while another error is on its way out: that error is
// the one reported.
void destroy_new_objects(const TokenAccess& t, const std::string& pin, const Pkcs11Uri& made) {
  try {
    Session s(*t.module, t.token, /*rw=*/true, made.text);
    login(s, t.token, pin, made.text);
    for (CK_OBJECT_CLASS cls : {CKO_CERTIFICATE, CKO_PUBLIC_KEY, CKO_PRIVATE_KEY})
      for (CK_OBJECT_HANDLE h : find_objects(s, cls, made, /*label=*/true, /*id=*/true)) s.f()->C_DestroyObject(s.h(), h);
  } catch (const Error&) {
  }
}

}  // namespace

PrivateKey load_pkcs11_private_key(const std::string& uri_text, const Pkcs11Access& access) {
  ossl::ErrorQueueGuard guard;
  Pkcs11Uri u = parse_pkcs11_uri(uri_text);
  require_type(u);
  TokenAccess t = open_token(u, access);
  std::string pin = pkcs11_pin(u, access);
  std::string canonical;
  {
    Session s(*t.module, t.token, /*rw=*/false, u.text);
    login(s, t.token, pin, u.text);
    std::vector<CK_OBJECT_HANDLE> keys = find_objects(s, CKO_PRIVATE_KEY, u, true, true);
    if (keys.empty()) throw Error(ENOENT, "pkcs11_object", u.text + ": no private key with this label/id in token \"" + t.token.label() + "\"");
    if (keys.size() > 1)
      throw Error(EINVAL, "pkcs11_object", u.text + ": " + std::to_string(keys.size()) + " private keys match: add object= or id=");
    Bytes id = attribute_bytes(s, keys[0], CKA_ID, u.text);
    Bytes label = attribute_bytes(s, keys[0], CKA_LABEL, u.text);
    canonical = canonical_uri(t.token, std::string(label.begin(), label.end()), id);
  }
  PrivateKey key = engine_private_key(t.module_path, canonical, pin, u.text);
  OPENSSL_cleanse(pin.data(), pin.size());
  return key;
}

Pkcs11KeygenResult keygen_pkcs11(const KeygenOptions& opts, const std::string& uri_text, const std::string& cert_path,
                                 const Pkcs11Access& access) {
  ossl::ErrorQueueGuard guard;
  if (opts.days <= 0 || opts.days > 365 * 100)
    throw Error(EINVAL, "bad_argument", "certificate lifetime of " + std::to_string(opts.days) + " days: use 1 to 36500");
  Pkcs11Uri u = parse_pkcs11_uri(uri_text);
  require_type(u);
  if (u.object.empty()) throw Error(EINVAL, "pkcs11_uri", u.text + ": keygen needs object=LABEL, the new key's name");
  TokenAccess t = open_token(u, access);
  std::string pin = pkcs11_pin(u, access);
  Pkcs11KeygenResult result;
  result.id = u.has_id ? u.id : random_id();
  result.uri = canonical_uri(t.token, u.object, result.id);
  Pkcs11Uri made = u;  // names exactly the objects this keygen makes
  made.id = result.id;
  made.has_id = true;
  ossl::Pkey pub;
  {
    Session s(*t.module, t.token, /*rw=*/true, u.text);
    login(s, t.token, pin, u.text);
    refuse_existing(s, u);
    NewPair pair = generate_pair(s, opts.algo, u.object, result.id, u.text);
    try {
      pub = public_key(s, pair.pub, opts.algo, u.text);
    } catch (...) {
      for (CK_OBJECT_HANDLE h : {pair.pub, pair.priv}) s.f()->C_DestroyObject(s.h(), h);
      throw;
    }
  }
  // Everything after the key pair exists undoes it on failure: no key is
  // left in the token without its certificate file.
  try {
    require_kernel_key(pub.get(), "keygen " + key_algo_name(opts.algo), EINVAL, "key_unsupported");
    PrivateKey signer = engine_private_key(t.module_path, result.uri, pin, u.text);
    ossl::X509Ptr cert = self_signed_certificate(pub.get(), signer.get(), opts.subject, opts.days);
    Session s(*t.module, t.token, /*rw=*/true, u.text);
    login(s, t.token, pin, u.text);
    store_certificate(s, cert.get(), u.object, result.id, u.text);
    write_outputs({Output{cert_path, certificate_file_bytes(cert.get(), cert_path)}});
  } catch (...) {
    destroy_new_objects(t, pin, made);
    OPENSSL_cleanse(pin.data(), pin.size());
    throw;
  }
  OPENSSL_cleanse(pin.data(), pin.size());
  return result;
}

}  // namespace bpfsig::crypto
