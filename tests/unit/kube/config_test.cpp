// Config loading matrix: kubeconfig with token, token file, client certificate (data and
// file), CA data and file, insecure, broken files; in-cluster with a fake service-account
// directory; token re-read by the REST client.
#include "kube/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/base64.h"
#include "kube/rest_client.h"
#include "testing/process.h"
#include "unit/kube/canned_http_server.h"
#include "unit/kube/test_certs.h"

namespace pygrid::kube {
namespace {

namespace fs = std::filesystem;
using pygrid::Base64Encode;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = testing::MakeSelfSignedCert("test-ca");
    client_ = testing::MakeSelfSignedCert("test-user");
  }

  std::string Write(const std::string& name, const std::string& text) {
    return tmp_.Write(name, text);
  }

  // A kubeconfig with one cluster/user/context; `cluster` and `user` are YAML bodies.
  std::string Kubeconfig(const std::string& cluster, const std::string& user,
                         const std::string& extra_context = "") {
    return "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
           "clusters:\n- name: c\n  cluster:\n" +
           cluster + "contexts:\n- name: test\n  context:\n    cluster: c\n    user: u\n" +
           extra_context + "users:\n- name: u\n  user:\n" + user;
  }

  const ::pygrid::testing::TempDir tmp_;
  const std::string dir_ = tmp_.path();
  testing::TestCert ca_;
  testing::TestCert client_;
};

TEST_F(ConfigTest, TokenAndCaData) {
  const std::string path = Write(
      "kc", Kubeconfig("    server: https://127.0.0.1:6443/\n    certificate-authority-data: " +
                           Base64Encode(ca_.cert_pem) + "\n",
                       "    token: secret-token-1\n", "    namespace: team-a\n"));
  auto config = LoadKubeconfigFile(path);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://127.0.0.1:6443");
  EXPECT_EQ(config->ca_pem, ca_.cert_pem);
  EXPECT_EQ(config->bearer_token, "secret-token-1");
  EXPECT_EQ(config->default_namespace, "team-a");
  EXPECT_FALSE(config->insecure_skip_tls_verify);
  EXPECT_TRUE(RestClient::Create(*config).ok());
}

TEST_F(ConfigTest, TokenFileAndCaFileRelativeToKubeconfig) {
  Write("sub/ca.crt", ca_.cert_pem);
  Write("sub/token", "file-token\n");
  const std::string path =
      Write("sub/kc", Kubeconfig("    server: https://k:443\n    certificate-authority: ca.crt\n",
                                 "    tokenFile: token\n"));
  auto config = LoadKubeconfigFile(path);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->ca_pem, ca_.cert_pem);
  EXPECT_EQ(config->token_file, dir_ + "/sub/token");
  EXPECT_TRUE(config->bearer_token.empty());
}

TEST_F(ConfigTest, ClientCertificateFromDataAndFromFile) {
  const std::string from_data = Write(
      "kc1", Kubeconfig("    server: https://k:443\n    insecure-skip-tls-verify: true\n",
                        "    client-certificate-data: " + Base64Encode(client_.cert_pem) +
                            "\n    client-key-data: " + Base64Encode(client_.key_pem) + "\n"));
  auto config = LoadKubeconfigFile(from_data);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->client_cert_pem, client_.cert_pem);
  EXPECT_EQ(config->client_key_pem, client_.key_pem);
  EXPECT_TRUE(RestClient::Create(*config).ok());

  Write("user.crt", client_.cert_pem);
  Write("user.key", client_.key_pem);
  const std::string from_file =
      Write("kc2", Kubeconfig("    server: https://k:443\n",
                              "    client-certificate: user.crt\n    client-key: user.key\n"));
  auto config2 = LoadKubeconfigFile(from_file);
  ASSERT_TRUE(config2.ok()) << config2.status().ToString();
  EXPECT_EQ(config2->client_key_pem, client_.key_pem);
}

TEST_F(ConfigTest, MismatchedClientKeyIsRejectedAtCreate) {
  const std::string path =
      Write("kc", Kubeconfig("    server: https://k:443\n",
                             "    client-certificate-data: " + Base64Encode(client_.cert_pem) +
                                 "\n    client-key-data: " + Base64Encode(ca_.key_pem) + "\n"));
  auto config = LoadKubeconfigFile(path);
  ASSERT_TRUE(config.ok());
  auto client = RestClient::Create(*config);
  ASSERT_FALSE(client.ok());
  EXPECT_TRUE(client.status().IsInvalid());
  EXPECT_NE(client.status().message().find("does not match"), std::string::npos);
}

TEST_F(ConfigTest, BrokenKubeconfigsGiveClearErrors) {
  struct Case {
    std::string text;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"{ not yaml", "not valid YAML"},
      {"apiVersion: v1\nclusters: []\n", "no current-context"},
      {"current-context: other\n" + Kubeconfig("    server: https://k\n", "    token: t\n")
                                        .substr(std::string("apiVersion: v1\nkind: Config\n"
                                                            "current-context: test\n")
                                                    .size()),
       "context \"other\" not found"},
      {Kubeconfig("    insecure-skip-tls-verify: true\n", "    token: t\n"), "has no server"},
      {Kubeconfig("    server: ftp://k\n", "    token: t\n"), "not an http(s) URL"},
      {Kubeconfig("    server: https://k\n    certificate-authority-data: '!!!'\n",
                  "    token: t\n"),
       "not valid base64"},
      {Kubeconfig("    server: https://k\n    certificate-authority: missing.crt\n",
                  "    token: t\n"),
       "cannot read file"},
      {Kubeconfig("    server: https://k\n", "    exec:\n      command: aws\n"),
       "exec or auth-provider"},
      {Kubeconfig("    server: https://k\n",
                  "    client-certificate-data: " + Base64Encode(client_.cert_pem) + "\n"),
       "needs both"},
      {Kubeconfig("    server: https://k\n", "    tokenFile: /nonexistent/token\n"), "tokenFile"},
  };
  for (const auto& c : cases) {
    const std::string path = Write("broken", c.text);
    auto config = LoadKubeconfigFile(path);
    ASSERT_FALSE(config.ok()) << c.text;
    EXPECT_TRUE(config.status().IsInvalid()) << config.status().ToString();
    EXPECT_NE(config.status().message().find(c.expect), std::string::npos)
        << config.status().message() << " / expected: " << c.expect;
    EXPECT_EQ(config.status().message().find("secret"), std::string::npos);
  }
  auto missing = LoadKubeconfigFile(dir_ + "/nope");
  EXPECT_TRUE(missing.status().IsInvalid());
}

TEST_F(ConfigTest, ExplicitContextOverridesCurrent) {
  const std::string text =
      "current-context: a\nclusters:\n- name: ca\n  cluster:\n    server: https://a:1\n"
      "- name: cb\n  cluster:\n    server: https://b:2\n"
      "contexts:\n- name: a\n  context: {cluster: ca, user: u}\n"
      "- name: b\n  context: {cluster: cb, user: u}\n"
      "users:\n- name: u\n  user: {token: t}\n";
  const std::string path = Write("kc", text);
  EXPECT_EQ(LoadKubeconfigFile(path)->server, "https://a:1");
  EXPECT_EQ(LoadKubeconfigFile(path, "b")->server, "https://b:2");
}

TEST_F(ConfigTest, InClusterFromFakeServiceAccountDir) {
  Write("sa/token", "sa-token\n");
  Write("sa/ca.crt", ca_.cert_pem);
  Write("sa/namespace", "pygrid-system");
  InClusterOptions options;
  options.service_account_dir = dir_ + "/sa";
  options.host = "10.0.0.1";
  options.port = "443";
  auto config = LoadInClusterConfig(options);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://10.0.0.1:443");
  EXPECT_EQ(config->token_file, dir_ + "/sa/token");
  EXPECT_EQ(config->ca_pem, ca_.cert_pem);
  EXPECT_EQ(config->default_namespace, "pygrid-system");
  EXPECT_TRUE(RestClient::Create(*config).ok());

  options.host = "fd00::1";
  EXPECT_EQ(LoadInClusterConfig(options)->server, "https://[fd00::1]:443");

  options.host = "";
  EXPECT_TRUE(LoadInClusterConfig(options).status().IsNotFound());

  options.host = "10.0.0.1";
  fs::remove(dir_ + "/sa/token");
  EXPECT_TRUE(LoadInClusterConfig(options).status().IsInvalid());
}

TEST_F(ConfigTest, LoadConfigPrefersExplicitThenKubeconfigEnv) {
  const std::string a = Write("a", Kubeconfig("    server: https://a:1\n", "    token: t\n"));
  const std::string b = Write("b", Kubeconfig("    server: https://b:2\n", "    token: t\n"));
  setenv("KUBECONFIG", (dir_ + "/missing:" + b).c_str(), 1);
  EXPECT_EQ(LoadConfig({a, "", false})->server, "https://a:1");
  EXPECT_EQ(LoadConfig({"", "", false})->server, "https://b:2");
  unsetenv("KUBECONFIG");
}

// The REST client re-reads a token file when the reload period has passed, because bound
// service-account tokens rotate.
TEST_F(ConfigTest, TokenFileIsReReadAfterReloadPeriod) {
  std::vector<std::string> seen;
  std::mutex mu;
  testing::CannedHttpServer server([&](const testing::CannedRequest& request) {
    const std::string auth = request.Header("Authorization");
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(auth.rfind("Bearer ", 0) == 0 ? auth.substr(7) : "");
    return testing::CannedResponse{200, R"({"kind":"Namespace"})", {}, {}};
  });
  const std::string token = Write("token", "first\n");
  RestConfig config;
  config.server = server.url();
  config.token_file = token;
  config.token_reload_period = std::chrono::seconds(60);
  FakeClock clock;
  auto client = RestClient::Create(config, {nullptr, &clock});
  ASSERT_TRUE(client.ok());
  const ResourceRef namespaces{"", "v1", "namespaces", false};
  ASSERT_TRUE((*client)->Get(namespaces, "", "x").ok());
  Write("token", "second\n");
  ASSERT_TRUE((*client)->Get(namespaces, "", "x").ok());  // cached
  clock.Advance(std::chrono::seconds(61));
  ASSERT_TRUE((*client)->Get(namespaces, "", "x").ok());
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen, (std::vector<std::string>{"first", "first", "second"}));
}

}  // namespace
}  // namespace pygrid::kube
