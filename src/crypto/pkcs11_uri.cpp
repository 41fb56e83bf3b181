// SPDX-License-Identifier: Apache-2.0
// RFC 7512 PKCS#11 URIs, and where a token key's module and PIN come from.
// The parser is strict: an attribute bpfsig would not use to select a token
// or an object is refused, not ignored, so a URI never selects a key other
// than the one it says.
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <set>

#include "bpfsig/crypto.h"
#include "bpfsig/error.h"

namespace bpfsig::crypto {

namespace {

Error uri_error(const std::string& detail) { return Error(EINVAL, "pkcs11_uri", "PKCS#11 URI: " + detail); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// %XX sequences to bytes; every other character stands for itself.
std::string percent_decode(const std::string& s, const std::string& attr) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
    int lo = hi >= 0 ? hex_value(s[i + 2]) : -1;
    if (lo < 0) throw uri_error("attribute " + attr + ": '%' must be followed by two hex digits");
    out.push_back(static_cast<char>(hi << 4 | lo));
    i += 2;
  }
  return out;
}

unsigned long parse_slot_id(const std::string& v) {
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos)
    throw uri_error("slot-id must be a decimal number");
  errno = 0;
  unsigned long id = std::strtoul(v.c_str(), nullptr, 10);
  if (errno != 0) throw uri_error("slot-id is out of range");
  return id;
}

// One "name=value" of the path (path == true) or of the query.
void set_attribute(Pkcs11Uri& u, const std::string& name, const std::string& raw, bool path) {
  // Refused before anything else, and never echoed: the value is a PIN.
  if (name == "pin-value")
    throw uri_error("pin-value is refused (a PIN in an argument shows in ps and shell history): "
                    "use --pin-source FILE, the URI's pin-source or BPFSIG_PIN");
  const std::string value = percent_decode(raw, name);
  if (path) {
    if (name == "token") u.token = value;
    else if (name == "manufacturer") u.manufacturer = value;
    else if (name == "serial") u.serial = value;
    else if (name == "model") u.model = value;
    else if (name == "slot-id") u.slot_id = parse_slot_id(value);
    else if (name == "object") u.object = value;
    else if (name == "id") {
      u.id.assign(value.begin(), value.end());
      u.has_id = true;
    } else if (name == "type") {
      static const std::set<std::string> kTypes = {"public", "private", "cert", "secret-key", "data"};
      if (!kTypes.count(value)) throw uri_error("type must be public, private, cert, secret-key or data");
      u.type = value;
    } else
      throw uri_error("path attribute \"" + name +
                      "\" is not one bpfsig selects by (token, manufacturer, serial, model, slot-id, object, id, type)");
    return;
  }
  if (name == "module-path") u.module_path = value;
  else if (name == "pin-source") u.pin_source = value;
  else if (name == "module-name")
    throw uri_error("module-name needs p11-kit's module registry: give module-path, --pkcs11-module or BPFSIG_PKCS11_MODULE");
  else
    throw uri_error("query attribute \"" + name + "\" is not one bpfsig knows (module-path, pin-source)");
}

void parse_attributes(Pkcs11Uri& u, const std::string& part, char sep, bool path, std::set<std::string>& seen) {
  size_t pos = 0;
  while (pos <= part.size()) {
    size_t end = part.find(sep, pos);
    if (end == std::string::npos) end = part.size();
    const std::string attr = part.substr(pos, end - pos);
    pos = end + 1;
    if (attr.empty()) {
      if (end == part.size()) break;  // "pkcs11:" alone, or a trailing separator
      throw uri_error(std::string("an empty attribute (two '") + sep + "' in a row)");
    }
    size_t eq = attr.find('=');
    // The name is cut at '=' only: a PIN-bearing attribute is never echoed.
    const std::string name = attr.substr(0, eq);
    if (eq == std::string::npos) throw uri_error("attribute \"" + name + "\" has no '='");
    if (!seen.insert(name).second) throw uri_error("attribute " + name + " is given twice");
    set_attribute(u, name, attr.substr(eq + 1), path);
  }
}

bool is_file(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

}  // namespace

bool is_pkcs11_uri(const std::string& key) {
  constexpr std::string_view kScheme = "pkcs11:";
  if (key.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(key[i])) != kScheme[i]) return false;
  return true;
}

Pkcs11Uri parse_pkcs11_uri(const std::string& uri) {
  if (!is_pkcs11_uri(uri)) throw uri_error("must start with \"pkcs11:\"");
  Pkcs11Uri u;
  const std::string rest = uri.substr(7);
  size_t q = rest.find('?');
  std::set<std::string> seen;
  parse_attributes(u, rest.substr(0, q), ';', /*path=*/true, seen);
  if (q != std::string::npos) parse_attributes(u, rest.substr(q + 1), '&', /*path=*/false, seen);
  u.text = uri;
  return u;
}

std::string pkcs11_module_path(const Pkcs11Uri& uri, const Pkcs11Access& access) {
  if (!uri.module_path.empty()) return uri.module_path;
  if (!access.module.empty()) return access.module;
  if (const char* env = std::getenv("BPFSIG_PKCS11_MODULE"); env != nullptr && *env != '\0') return env;
  // SoftHSM2 first (Debian's libsofthsm2), then p11-kit's proxy, which
  // reaches every module registered in /usr/share/p11-kit/modules.
  for (const char* candidate : {"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                                "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so"})
    if (is_file(candidate)) return candidate;
  throw Error(ENOENT, "pkcs11_module",
              uri.text + ": no PKCS#11 module: give the URI's module-path, --pkcs11-module or BPFSIG_PKCS11_MODULE");
}

std::string pkcs11_pin(const Pkcs11Uri& uri, const Pkcs11Access& access) {
  // resolve_passphrase reads the first line and wipes the buffer it read.
  if (!access.pin_source.empty()) return resolve_passphrase("file:" + access.pin_source);
  if (!uri.pin_source.empty()) {
    std::string file = uri.pin_source.rfind("file:", 0) == 0 ? uri.pin_source.substr(5) : uri.pin_source;
    if (file.rfind("//", 0) == 0) file.erase(0, 2);  // file:///path
    if (file.empty() || file[0] == '|') throw uri_error("pin-source must name a file (a command is not run)");
    return resolve_passphrase("file:" + file);
  }
  const char* env = std::getenv("BPFSIG_PIN");
  return env ? std::string(env) : std::string();
}

}  // namespace bpfsig::crypto
