// Provides the mapping from an API server answer to pygrid::Status, following
// k8s.io/apimachinery/pkg/api/errors: the `reason` of a `kind: Status` body decides the kind,
// the HTTP code is the fallback when the body is not a Status.
//
//   Status st = StatusFromResponse(409, body, "");  // Conflict or AlreadyExists by reason
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "core/status.h"

namespace pygrid::kube {

// Builds the error for an HTTP answer with code >= 400. `retry_after_header` is the raw
// Retry-After header ("" when absent; seconds form only, as client-go). The message is the
// server's own (never credentials); `what` ("GET pods ns/x") prefixes it.
Status StatusFromResponse(int http_status, const std::string& body,
                          const std::string& retry_after_header, const std::string& what = "");

// Builds the error for a `kind: Status` object (as found in a watch ERROR event).
Status StatusFromStatusObject(const nlohmann::json& status, const std::string& what = "");

}  // namespace pygrid::kube
