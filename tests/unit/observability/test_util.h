// Helpers shared by the observability tests: reading samples out of collected families, a
// tiny blocking HTTP client and running an external command.
#pragma once

#include <prometheus/metric_family.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "testing/net.h"
#include "testing/process.h"

namespace pygrid::observability::testing {

using LabelMap = std::map<std::string, std::string>;

// The metric of family `name` whose labels are exactly `labels`, if any.
inline const prometheus::ClientMetric* FindMetric(
    const std::vector<prometheus::MetricFamily>& families, const std::string& name,
    const LabelMap& labels) {
  for (const auto& family : families) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      LabelMap got;
      for (const auto& label : metric.label) got[label.name] = label.value;
      if (got == labels) return &metric;
    }
  }
  return nullptr;
}

// Number of series in family `name` (0 when absent).
inline size_t SeriesCount(const std::vector<prometheus::MetricFamily>& families,
                          const std::string& name) {
  size_t n = 0;
  for (const auto& family : families) {
    if (family.name == name) n += family.metric.size();
  }
  return n;
}

struct HttpResult {
  int status = 0;
  std::string headers;
  std::string body;
};

// GET http://127.0.0.1:<port><target>; status 0 when the connection failed.
inline HttpResult HttpGet(int port, const std::string& target, const std::string& method = "GET") {
  HttpResult result;
  const int fd = ::pygrid::testing::ConnectLoopback(port, /*receive_timeout_seconds=*/10);
  if (fd < 0) return result;
  // HTTP/1.0 so that any server answers without chunking and closes the connection.
  std::string request = method + " " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) {
    close(fd);
    return result;
  }
  std::string response;
  char buf[8192];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) response.append(buf, static_cast<size_t>(n));
  close(fd);
  size_t header_end = response.find("\r\n\r\n");
  if (response.compare(0, 7, "HTTP/1.") != 0 || header_end == std::string::npos) {
    return result;
  }
  result.status = std::stoi(response.substr(9, 3));
  result.headers = response.substr(0, header_end);
  result.body = response.substr(header_end + 4);
  return result;
}

// The shared test helpers (tests/testing), under this namespace's names.
using ::pygrid::testing::CommandResult;
using ::pygrid::testing::FreeLoopbackPort;
using ::pygrid::testing::RunCommand;

}  // namespace pygrid::observability::testing
