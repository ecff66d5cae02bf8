// Tests for HttpServer over plain TCP with a raw socket client: request parsing, keep-alive,
// chunked streaming and Stop() ending an open stream.
#include "sim/common/http_server.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <string>
#include <thread>

namespace pygrid::sim {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// Sends raw `request` and reads until `until` appears (or EOF); returns what was read.
std::string Exchange(uint16_t port, const std::string& request, const std::string& until) {
  net::io_context io;
  tcp::socket s(io);
  s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  net::write(s, net::buffer(request));
  std::string data;
  boost::system::error_code ec;
  while (data.find(until) == std::string::npos) {
    char buf[4096];
    size_t n = s.read_some(net::buffer(buf), ec);
    if (ec) break;
    data.append(buf, n);
  }
  return data;
}

TEST(HttpServerTest, ParsesPathQueryHeadersAndBody) {
  HttpServer server({}, [](const HttpRequest& req) {
    std::string out = req.method + "|" + req.path + "|" + req.Query("a") + "|" +
                      req.Header("x-test") + "|" + req.body + "|" +
                      (req.HasQuery("flag") ? "flag" : "noflag");
    return HttpResponse::Text(201, "text/plain", out).With("X-Reply", "yes");
  });
  std::string err;
  ASSERT_TRUE(server.Start(&err)) << err;
  ASSERT_NE(server.port(), 0);
  std::string got = Exchange(server.port(),
                             "POST /p%20q?a=b%2Fc+d&flag HTTP/1.1\r\nHost: x\r\nX-Test: hi\r\n"
                             "Content-Length: 4\r\nConnection: close\r\n\r\nbody",
                             "noflag!never");
  EXPECT_NE(got.find("HTTP/1.1 201"), std::string::npos) << got;
  EXPECT_NE(got.find("X-Reply: yes"), std::string::npos) << got;
  EXPECT_NE(got.find("POST|/p q|b/c d|hi|body|flag"), std::string::npos) << got;
}

TEST(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  HttpServer server({}, [](const HttpRequest& req) {
    return HttpResponse::Text(200, "text/plain", "r" + req.path);
  });
  ASSERT_TRUE(server.Start(nullptr));
  std::string got = Exchange(server.port(),
                             "GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                             "r/two");
  EXPECT_NE(got.find("r/one"), std::string::npos);
  EXPECT_NE(got.find("r/two"), std::string::npos);
}

TEST(HttpServerTest, OversizedBodyReachesTheHandlerFlaggedAndClosesTheConnection) {
  HttpServerOptions opts;
  opts.max_body_bytes = 10;
  HttpServer server(opts, [](const HttpRequest& req) {
    return HttpResponse::Text(req.body_too_large ? 413 : 200, "text/plain",
                              "len=" + std::to_string(req.body.size()));
  });
  ASSERT_TRUE(server.Start(nullptr));
  // Exactly the limit is accepted and the connection stays usable.
  std::string ok = Exchange(server.port(),
                            "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789"
                            "GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                            "len=0");
  EXPECT_NE(ok.find("HTTP/1.1 200 OK"), std::string::npos) << ok;
  EXPECT_NE(ok.find("len=10"), std::string::npos) << ok;
  // One byte more (declared, or sent chunked) is flagged; the rest of the body is drained and
  // never taken for a next request.
  for (const std::string& req :
       {std::string("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n0123456789X"),
        std::string("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "6\r\n012345\r\n6\r\n6789XY\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n")}) {
    std::string got = Exchange(server.port(), req, "!never");
    EXPECT_NE(got.find("HTTP/1.1 413"), std::string::npos) << req << " -> " << got;
    EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
    EXPECT_EQ(got.find("HTTP/1.1 200"), std::string::npos) << got;
  }
}

TEST(HttpServerTest, UnparseableAndOversizedHeadersGetGoStyleAnswers) {
  HttpServerOptions opts;
  opts.max_header_bytes = 1000;
  HttpServer server(opts,
                    [](const HttpRequest&) { return HttpResponse::Text(200, "text/plain", "ok"); });
  ASSERT_TRUE(server.Start(nullptr));
  std::string bad = Exchange(server.port(), "GET / HTTP/1.1\r\nBad Header\r\n\r\n", "!never");
  EXPECT_EQ(bad,
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Connection: close\r\n\r\n400 Bad Request");
  std::string big = Exchange(
      server.port(), "GET /" + std::string(2000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", "!never");
  EXPECT_NE(big.find("HTTP/1.1 431 Request Header Fields Too Large"), std::string::npos) << big;
  // A long target within the limit is fine.
  std::string ok = Exchange(
      server.port(),
      "GET /" + std::string(900, 'a') + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      "!never");
  EXPECT_NE(ok.find("HTTP/1.1 200 OK"), std::string::npos) << ok;
}

TEST(HttpServerTest, CloseWithoutAnswerSendsNothing) {
  HttpServer server({}, [](const HttpRequest& req) {
    if (req.path == "/lost") return HttpResponse::CloseWithoutAnswer();
    return HttpResponse::Text(200, "text/plain", "ok");
  });
  ASSERT_TRUE(server.Start(nullptr));
  EXPECT_EQ(Exchange(server.port(), "POST /lost HTTP/1.1\r\nHost: x\r\n\r\n", "!never"), "");
  EXPECT_NE(Exchange(server.port(), "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "ok")
                .find("200 OK"),
            std::string::npos);
}

TEST(HttpServerTest, StreamsChunksAndEndsWithLastChunk) {
  HttpServer server({}, [](const HttpRequest&) {
    return HttpResponse::Stream(200, "application/json", [](ChunkWriter& out) {
      out.Write("{\"n\":1}\n");
      out.Write("{\"n\":2}\n");
    });
  });
  ASSERT_TRUE(server.Start(nullptr));
  std::string got = Exchange(
      server.port(), "GET /w HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "0\r\n\r\n");
  EXPECT_NE(got.find("Transfer-Encoding: chunked"), std::string::npos) << got;
  EXPECT_NE(got.find("{\"n\":1}\n"), std::string::npos);
  EXPECT_NE(got.find("{\"n\":2}\n"), std::string::npos);
  EXPECT_NE(got.find("0\r\n\r\n"), std::string::npos);
}

TEST(HttpServerTest, StopEndsAnOpenStream) {
  std::atomic<bool> saw_stopping{false};
  HttpServer server({}, [&](const HttpRequest&) {
    return HttpResponse::Stream(200, "application/json", [&](ChunkWriter& out) {
      out.Write("start\n");
      while (out.Write("tick\n")) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      saw_stopping = out.Stopping();
    });
  });
  ASSERT_TRUE(server.Start(nullptr));
  net::io_context io;
  tcp::socket s(io);
  s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server.port()));
  net::write(s, net::buffer(std::string("GET /w HTTP/1.1\r\nHost: x\r\n\r\n")));
  net::streambuf buf;
  net::read_until(s, buf, "start");
  server.Stop();  // must return: the producer sees Write() fail and returns
  EXPECT_TRUE(saw_stopping);
}

TEST(HttpServerTest, StartFailsOnBadTlsKey) {
  HttpServerOptions opts;
  opts.tls_cert_pem = "not a cert";
  opts.tls_key_pem = "not a key";
  HttpServer server(opts, [](const HttpRequest&) { return HttpResponse{}; });
  std::string err;
  EXPECT_FALSE(server.Start(&err));
  EXPECT_NE(err.find("http server start failed"), std::string::npos);
}

TEST(PercentDecodeTest, DecodesEscapesAndPlus) {
  EXPECT_EQ(PercentDecode("a%3Db+c", true), "a=b c");
  EXPECT_EQ(PercentDecode("a%3Db+c", false), "a=b+c");
  EXPECT_EQ(PercentDecode("bad%zz%", false), "bad%zz%");
}

}  // namespace
}  // namespace pygrid::sim
