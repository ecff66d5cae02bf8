// Helpers shared by the observability tests: reading samples out of collected families, a
// tiny blocking HTTP client and running an external command.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <prometheus/metric_family.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

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
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return result;
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return result;
  }
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

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs `command` through the shell, capturing stdout and stderr.
inline CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) result.output.append(buf.data(), n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace pygrid::observability::testing
