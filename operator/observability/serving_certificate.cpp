#include "observability/serving_certificate.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <sstream>

#include "observability/log.h"

namespace pygrid::observability {
namespace {

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

const Logger& Log() {
  static const Logger logger("metrics.tls");
  return logger;
}

std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  *out = text.str();
  return static_cast<bool>(in) || in.eof();
}

std::string ToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return "";
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

bool AddExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  const bool added = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return added;
}

}  // namespace

struct ServingCertificate::Pair {
  X509Ptr leaf{nullptr, X509_free};
  STACK_OF(X509) * chain = nullptr;  // intermediates after the leaf; may be empty
  KeyPtr key{nullptr, EVP_PKEY_free};

  ~Pair() {
    if (chain != nullptr) sk_X509_pop_free(chain, X509_free);
  }

  // Parses PEM text; Invalid names what is wrong (never the key material).
  static StatusOr<std::shared_ptr<const Pair>> FromPem(const std::string& cert_pem,
                                                       const std::string& key_pem) {
    auto pair = std::make_shared<Pair>();
    BioPtr certs(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())), BIO_free);
    pair->leaf.reset(PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr));
    if (!pair->leaf) return Status::Invalid("tls.crt holds no PEM certificate");
    pair->chain = sk_X509_new_null();
    while (X509* next = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr)) {
      sk_X509_push(pair->chain, next);
    }
    ERR_clear_error();  // the loop ends on "no start line"
    BioPtr key(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())), BIO_free);
    pair->key.reset(PEM_read_bio_PrivateKey(key.get(), nullptr, nullptr, nullptr));
    if (!pair->key) {
      ERR_clear_error();
      return Status::Invalid("tls.key holds no PEM private key");
    }
    if (X509_check_private_key(pair->leaf.get(), pair->key.get()) != 1) {
      ERR_clear_error();
      return Status::Invalid("tls.key does not match the certificate in tls.crt");
    }
    return std::shared_ptr<const Pair>(std::move(pair));
  }
};

StatusOr<std::shared_ptr<ServingCertificate>> ServingCertificate::SelfSigned(
    const std::vector<std::string>& dns_names, const Clock& clock) {
  auto pair = std::make_shared<Pair>();
  pair->key.reset(EVP_EC_gen("P-256"));
  if (!pair->key) return Status::Internal("generating the metrics key: " + OpenSslError());
  pair->leaf.reset(X509_new());
  X509* cert = pair->leaf.get();
  unsigned char serial[16];
  if (cert == nullptr || RAND_bytes(serial, sizeof(serial)) != 1) {
    return Status::Internal("generating the metrics certificate: " + OpenSslError());
  }
  serial[0] &= 0x7f;  // a positive serial number
  std::unique_ptr<BIGNUM, decltype(&BN_free)> serial_bn(BN_bin2bn(serial, sizeof(serial), nullptr),
                                                        BN_free);
  time_t now = std::chrono::system_clock::to_time_t(clock.WallNow());
  std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  for (const std::string& name : dns_names) {
    if (!name.empty()) san += ",DNS:" + name;
  }
  X509_NAME* subject = X509_get_subject_name(cert);
  const bool ok =
      X509_set_version(cert, 2) == 1 && serial_bn &&
      BN_to_ASN1_INTEGER(serial_bn.get(), X509_get_serialNumber(cert)) != nullptr &&
      X509_time_adj_ex(X509_getm_notBefore(cert), 0, -3600, &now) != nullptr &&
      X509_time_adj_ex(X509_getm_notAfter(cert), 365, 0, &now) != nullptr &&
      X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("pygrid-operator"), -1, -1,
                                 0) == 1 &&
      X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("pygrid-operator-metrics"),
                                 -1, -1, 0) == 1 &&
      X509_set_issuer_name(cert, subject) == 1 && X509_set_pubkey(cert, pair->key.get()) == 1 &&
      AddExtension(cert, NID_basic_constraints, "critical,CA:FALSE") &&
      AddExtension(cert, NID_key_usage, "critical,digitalSignature") &&
      AddExtension(cert, NID_ext_key_usage, "serverAuth") &&
      AddExtension(cert, NID_subject_alt_name, san) &&
      X509_sign(cert, pair->key.get(), EVP_sha256()) > 0;
  if (!ok) return Status::Internal("generating the metrics certificate: " + OpenSslError());
  pair->chain = sk_X509_new_null();
  return std::shared_ptr<ServingCertificate>(
      new ServingCertificate(std::move(pair), "", &clock, std::chrono::seconds(0), ""));
}

StatusOr<std::shared_ptr<ServingCertificate>> ServingCertificate::FromDirectory(
    const std::string& dir, const Clock& clock, std::chrono::seconds recheck) {
  std::string cert_pem;
  std::string key_pem;
  if (!ReadFile(dir + "/tls.crt", &cert_pem) || !ReadFile(dir + "/tls.key", &key_pem)) {
    return Status::Invalid("cannot read " + dir + "/tls.crt and " + dir + "/tls.key");
  }
  StatusOr<std::shared_ptr<const Pair>> pair = Pair::FromPem(cert_pem, key_pem);
  if (!pair.ok()) return Status::Invalid(dir + ": " + pair.status().message());
  return std::shared_ptr<ServingCertificate>(
      new ServingCertificate(*pair, dir, &clock, recheck, cert_pem + key_pem));
}

ServingCertificate::ServingCertificate(std::shared_ptr<const Pair> pair, std::string dir,
                                       const Clock* clock, std::chrono::seconds recheck,
                                       std::string loaded_files)
    : pair_(std::move(pair)),
      dir_(std::move(dir)),
      clock_(clock),
      recheck_(recheck),
      loaded_files_(std::move(loaded_files)),
      next_check_(clock->Now() + recheck) {}

ServingCertificate::~ServingCertificate() = default;

std::shared_ptr<const ServingCertificate::Pair> ServingCertificate::Current() {
  std::lock_guard<std::mutex> lock(mu_);
  if (dir_.empty() || clock_->Now() < next_check_) return pair_;
  next_check_ = clock_->Now() + recheck_;
  std::string cert_pem;
  std::string key_pem;
  // Mounted Secrets change by swapping a symlink: both files are read anew each time.
  if (!ReadFile(dir_ + "/tls.crt", &cert_pem) || !ReadFile(dir_ + "/tls.key", &key_pem)) {
    return pair_;
  }
  if (cert_pem + key_pem == loaded_files_) return pair_;
  StatusOr<std::shared_ptr<const Pair>> reloaded = Pair::FromPem(cert_pem, key_pem);
  if (!reloaded.ok()) {
    // Half-written during a rotation, most likely; the next check will see the whole pair.
    Log().Warning("keeping the previous metrics certificate",
                  {{"dir", dir_}, {"error", reloaded.status().message()}});
    return pair_;
  }
  loaded_files_ = cert_pem + key_pem;
  pair_ = *reloaded;
  Log().Info("loaded a new metrics certificate", {{"dir", dir_}});
  return pair_;
}

std::string ServingCertificate::CertificatePem() { return ToPem(Current()->leaf.get()); }

int ServingCertificate::OnHandshake(::ssl_st* ssl, void* self) {
  std::shared_ptr<const Pair> pair = static_cast<ServingCertificate*>(self)->Current();
  // The SSL object takes its own references, so a reload during the handshake is harmless.
  return SSL_use_cert_and_key(ssl, pair->leaf.get(), pair->key.get(), pair->chain, 1) == 1 ? 1 : 0;
}

void ServingCertificate::InstallOn(ssl_ctx_st* ctx) {
  SSL_CTX_set_cert_cb(ctx, &ServingCertificate::OnHandshake, this);
}

}  // namespace pygrid::observability
