// A tiny HTTP/1.1 server on 127.0.0.1:<ephemeral> answering each request with whatever the
// test's handler returns; every connection is closed after one response. Lets the REST client
// be tested against real HTTP responses (status lines, headers, chunked streams) without
// kube-sim. Thread-safety: the handler runs on the server's thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace pygrid::kube::testing {

struct CannedResponse {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When not empty the body is sent chunked, one HTTP chunk per entry, instead of `body`.
  std::vector<std::string> chunks;
};

struct CannedRequest {
  std::string method;
  std::string target;
  std::string body;
  std::string headers;  // raw header block

  // The value of header `name` (case-insensitive, surrounding blanks trimmed), or "".
  std::string Header(const std::string& name) const {
    size_t line_start = headers.find("\r\n");
    while (line_start != std::string::npos) {
      line_start += 2;
      const size_t line_end = headers.find("\r\n", line_start);
      const std::string line = headers.substr(line_start, line_end - line_start);
      const size_t colon = line.find(':');
      if (colon != std::string::npos && colon == name.size() &&
          strncasecmp(line.c_str(), name.c_str(), colon) == 0) {
        size_t value = colon + 1;
        while (value < line.size() && line[value] == ' ') ++value;
        return line.substr(value);
      }
      line_start = line_end;
    }
    return "";
  }
};

class CannedHttpServer {
 public:
  using Handler = std::function<CannedResponse(const CannedRequest&)>;

  explicit CannedHttpServer(Handler handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 64);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }

  ~CannedHttpServer() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    if (thread_.joinable()) thread_.join();
  }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_.load(); }

 private:
  void Serve() {
    while (!stopping_) {
      const int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) return;
      Handle(conn);
      ::close(conn);
    }
  }

  static void WriteAll(int conn, const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(conn, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }

  void Handle(int conn) {
    std::string in;
    char buf[4096];
    size_t header_end;
    while ((header_end = in.find("\r\n\r\n")) == std::string::npos) {
      const ssize_t n = ::recv(conn, buf, sizeof(buf), 0);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
    }
    CannedRequest request;
    const std::string head = in.substr(0, header_end);
    const size_t sp1 = head.find(' ');
    const size_t sp2 = head.find(' ', sp1 + 1);
    request.method = head.substr(0, sp1);
    request.target = head.substr(sp1 + 1, sp2 - sp1 - 1);
    request.headers = head;
    const std::string length = request.Header("Content-Length");
    const size_t content_length = length.empty() ? 0 : std::stoul(length);
    request.body = in.substr(header_end + 4);
    while (request.body.size() < content_length) {
      const ssize_t n = ::recv(conn, buf, sizeof(buf), 0);
      if (n <= 0) break;
      request.body.append(buf, static_cast<size_t>(n));
    }
    ++requests_;
    const CannedResponse response = handler_(request);
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " Canned\r\n";
    out += "Connection: close\r\n";
    for (const auto& header : response.headers) out += header.first + ": " + header.second + "\r\n";
    if (response.chunks.empty()) {
      out += "Content-Type: application/json\r\n";
      out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n\r\n" + response.body;
      WriteAll(conn, out);
      return;
    }
    out += "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    WriteAll(conn, out);
    for (const auto& chunk : response.chunks) {
      char size[32];
      std::snprintf(size, sizeof(size), "%zx\r\n", chunk.size());
      WriteAll(conn, size + chunk + "\r\n");
    }
    WriteAll(conn, "0\r\n\r\n");
  }

  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

}  // namespace pygrid::kube::testing
