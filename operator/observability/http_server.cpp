#include "observability/http_server.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>
#include <vector>

namespace pygrid::observability {
namespace {

constexpr size_t kMaxRequestBytes = 16 * 1024;
// A stuck client must not block the probes for long: kubelet's default probe timeout is 1 s.
constexpr int kIoTimeoutSeconds = 2;

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 500:
      return "Internal Server Error";
    default:
      return "Unknown";
  }
}

void WriteAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

// Splits Go's "host:port" (host may be empty or a bracketed IPv6 literal).
bool SplitHostPort(const std::string& address, std::string* host, std::string* port) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  *host = address.substr(0, colon);
  *port = address.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  if (port->empty()) return false;
  for (char c : *port) {
    if (c < '0' || c > '9') return false;
  }
  return std::stoul(*port) <= 65535;
}

int BoundPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
}

int ListenOn(const sockaddr* addr, socklen_t len, int family, bool dual_stack) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (family == AF_INET6) {
    int v6only = dual_stack ? 0 : 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
  }
  if (bind(fd, addr, len) != 0 || listen(fd, 64) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

}  // namespace

bool HasQueryParameter(const std::string& query, const std::string& name) {
  std::istringstream in(query);
  std::string part;
  while (std::getline(in, part, '&')) {
    if (part.substr(0, part.find('=')) == name) return true;
  }
  return false;
}

std::vector<std::string> QueryValues(const std::string& query, const std::string& name) {
  std::vector<std::string> values;
  std::istringstream in(query);
  std::string part;
  while (std::getline(in, part, '&')) {
    size_t eq = part.find('=');
    if (eq != std::string::npos && part.substr(0, eq) == name)
      values.push_back(part.substr(eq + 1));
  }
  return values;
}

struct HttpServer::Thread {
  std::thread thread;
};

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& bind_address,
                                                        HttpHandler handler) {
  if (bind_address.empty() || bind_address == "0") return std::unique_ptr<HttpServer>();
  std::string host;
  std::string port;
  if (!SplitHostPort(bind_address, &host, &port)) {
    return Status::Invalid("bind address \"" + bind_address + "\" is not host:port");
  }
  int fd = -1;
  int last_errno = 0;
  if (host.empty()) {
    // Go's ":port" listens on every IPv4 and IPv6 address; fall back to IPv4 without IPv6.
    sockaddr_in6 any6{};
    any6.sin6_family = AF_INET6;
    any6.sin6_addr = in6addr_any;
    any6.sin6_port = htons(static_cast<uint16_t>(std::stoul(port)));
    fd = ListenOn(reinterpret_cast<sockaddr*>(&any6), sizeof(any6), AF_INET6, true);
    if (fd < 0) {
      sockaddr_in any4{};
      any4.sin_family = AF_INET;
      any4.sin_addr.s_addr = htonl(INADDR_ANY);
      any4.sin_port = any6.sin6_port;
      fd = ListenOn(reinterpret_cast<sockaddr*>(&any4), sizeof(any4), AF_INET, false);
    }
    last_errno = errno;
  } else {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
    if (rc != 0) {
      return Status::Invalid("cannot resolve bind address \"" + bind_address +
                             "\": " + gai_strerror(rc));
    }
    for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
      fd = ListenOn(ai->ai_addr, ai->ai_addrlen, ai->ai_family, false);
      last_errno = errno;
    }
    freeaddrinfo(found);
  }
  if (fd < 0) {
    return Status::Unavailable("cannot listen on \"" + bind_address +
                               "\": " + std::strerror(last_errno));
  }
  std::unique_ptr<HttpServer> server(new HttpServer(fd, BoundPort(fd), std::move(handler)));
  if (pipe2(server->wake_pipe_, O_CLOEXEC) != 0) {
    return Status::Internal(std::string("pipe: ") + std::strerror(errno));
  }
  server->thread_ = std::make_unique<Thread>();
  server->thread_->thread = std::thread([s = server.get()] { s->Serve(); });
  return server;
}

HttpServer::HttpServer(int listen_fd, int port, HttpHandler handler)
    : listen_fd_(listen_fd), port_(port), handler_(std::move(handler)) {}

HttpServer::~HttpServer() {
  Stop();
  if (listen_fd_ >= 0) close(listen_fd_);
  for (int fd : wake_pipe_) {
    if (fd >= 0) close(fd);
  }
}

void HttpServer::Stop() {
  if (!thread_ || !thread_->thread.joinable()) return;
  char byte = 1;
  ssize_t ignored = write(wake_pipe_[1], &byte, 1);
  (void)ignored;
  thread_->thread.join();
  // Closing now (not in the destructor) makes new connections fail fast instead of queueing.
  close(listen_fd_);
  listen_fd_ = -1;
}

void HttpServer::Serve() {
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
  while (true) {
    int n = poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || (fds[1].revents & POLLIN) != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    int conn = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    HandleConnection(conn);
    close(conn);
  }
}

void HttpServer::HandleConnection(int fd) {
  timeval timeout{kIoTimeoutSeconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  std::string request;
  char buf[4096];
  // A client trickling bytes must not hold the (single) serving thread beyond this deadline.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kIoTimeoutSeconds);
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequestBytes &&
         std::chrono::steady_clock::now() < deadline) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    request.append(buf, static_cast<size_t>(n));
  }
  HttpRequest req;
  HttpResponse resp;
  std::istringstream line(request.substr(0, request.find("\r\n")));
  std::string target;
  std::string version;
  if (!(line >> req.method >> target >> version) || target.empty() || target[0] != '/') {
    resp = {400, "text/plain; charset=utf-8", "bad request\n"};
  } else if (req.method != "GET" && req.method != "HEAD") {
    resp = {405, "text/plain; charset=utf-8", "method not allowed\n"};
  } else {
    size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = target.substr(q + 1);
    try {
      resp = handler_(req);
    } catch (const std::exception&) {
      resp = {500, "text/plain; charset=utf-8", "internal server error\n"};
    }
  }
  std::ostringstream out;
  out << "HTTP/1.1 " << resp.status << ' ' << Reason(resp.status) << "\r\n"
      << "Content-Type: " << resp.content_type << "\r\n"
      << "Content-Length: " << resp.body.size() << "\r\n"
      << "X-Content-Type-Options: nosniff\r\n"
      << "Connection: close\r\n\r\n";
  if (req.method != "HEAD") out << resp.body;
  WriteAll(fd, out.str());
  shutdown(fd, SHUT_WR);
}

}  // namespace pygrid::observability
