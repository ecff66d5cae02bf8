// Generates kube-sim's throw-away PKI at start: a self-signed CA and a server certificate for
// 127.0.0.1/localhost signed by it (EC P-256, valid for a day). Thread-safe (no shared state).
#pragma once

#include <string>

namespace pygrid::sim::kube {

// PEM texts of the generated CA certificate and of the server certificate and key.
struct SimPki {
  std::string ca_cert_pem;
  std::string server_cert_pem;
  std::string server_key_pem;  // secret: never logged
};

// Builds a fresh CA and server certificate; false with `error` set on an OpenSSL failure.
bool GenerateSimPki(SimPki* out, std::string* error);

}  // namespace pygrid::sim::kube
