// Provides ServingCertificate: the certificate and key the HTTPS metrics server presents.
// Either generated in memory at start (self-signed, as controller-runtime's metrics server
// does when no CertDir is given) or read from a directory holding tls.crt and tls.key (a
// cert-manager Secret mounted as a volume) and re-read when those files change, the way
// controller-runtime's certwatcher does:
//
//   auto certificate = cert_dir.empty()
//       ? ServingCertificate::SelfSigned({"pygrid-operator-metrics.pygrid-system.svc"})
//       : ServingCertificate::FromDirectory(cert_dir, RealClock::Instance());
//   HttpServer::Start({.bind_address = ":8443", .handler = h, .certificate = *certificate});
//
// The private key never leaves memory (nothing is written to disk, so a read-only root
// filesystem is fine). Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX
struct ssl_st;      // OpenSSL's SSL

namespace pygrid::observability {

class ServingCertificate {
 public:
  // An ECDSA P-256 key and a self-signed certificate valid for one year, for the names
  // localhost, 127.0.0.1, ::1 and `dns_names`. Internal when OpenSSL fails.
  static StatusOr<std::shared_ptr<ServingCertificate>> SelfSigned(
      const std::vector<std::string>& dns_names, const Clock& clock = RealClock::Instance());
  // `dir`/tls.crt (the certificate, then any intermediates, PEM) and `dir`/tls.key (PEM).
  // Invalid when a file is missing, unreadable, or the key does not match. The files are
  // checked again at most every `recheck` (on a TLS handshake); a changed pair that loads
  // replaces the old one, a broken one is ignored (the old pair stays) until fixed.
  static StatusOr<std::shared_ptr<ServingCertificate>> FromDirectory(
      const std::string& dir, const Clock& clock,
      std::chrono::seconds recheck = std::chrono::seconds(10));
  ~ServingCertificate();
  ServingCertificate(const ServingCertificate&) = delete;
  ServingCertificate& operator=(const ServingCertificate&) = delete;

  // PEM of the certificate presented now (the leaf), e.g. for a client to trust.
  std::string CertificatePem();
  // Makes every TLS handshake of `ctx` present the current pair; this object must outlive
  // `ctx`.
  void InstallOn(ssl_ctx_st* ctx);

 private:
  struct Pair;
  ServingCertificate(std::shared_ptr<const Pair> pair, std::string dir, const Clock* clock,
                     std::chrono::seconds recheck, std::string loaded_files);
  // The pair to present, after re-reading the directory when due.
  std::shared_ptr<const Pair> Current();
  static int OnHandshake(::ssl_st* ssl, void* self);

  std::mutex mu_;
  std::shared_ptr<const Pair> pair_;  // guarded by mu_
  const std::string dir_;             // "" for a generated certificate
  const Clock* clock_;
  const std::chrono::seconds recheck_;
  std::string loaded_files_;     // guarded by mu_; tls.crt + tls.key as last read
  Clock::TimePoint next_check_;  // guarded by mu_
};

}  // namespace pygrid::observability
