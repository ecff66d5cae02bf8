// Paging of the Genesis client's lists over a fake transport: the caller gets the complete
// list or an error, never a silently short list (a short instance list makes the controller
// create an instance twice). Time is a FakeClock moved only by the injected sleeper.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "cloud/genesis/genesis_client.h"
#include "unit/cloud/fake_transport.h"

namespace pygrid::cloud::genesis {
namespace {

using nlohmann::json;
using testing::Answer;
using testing::FakeTransport;

json Item(const std::string& id) {
  return {{"id", id},
          {"name", "n-" + id},
          {"hostname", "n-" + id},
          {"type", "t"},
          {"status", "active"},
          {"region", "ARC-IS-HAF-1"},
          {"public_ip", nullptr},
          {"private_ip", nullptr},
          {"created_at", "x"}};
}

std::vector<json> Items(int count, const std::string& prefix = "i") {
  std::vector<json> out;
  for (int i = 0; i < count; ++i) out.push_back(Item(prefix + std::to_string(i)));
  return out;
}

// Which envelope fields a scripted server sends.
struct Envelope {
  bool total_count = true;
  bool page = true;
  bool per_page = true;
};

// page and per_page from "/instances?page=P&per_page=N".
std::pair<int, int> Paging(const std::string& path) {
  static const std::regex re(R"(page=(\d+)&per_page=(\d+))");
  std::smatch m;
  if (!std::regex_search(path, m, re)) return {0, 0};
  return {std::stoi(m[1]), std::stoi(m[2])};
}

// One page of `items` as the API would serve it at that moment.
json PageOf(const std::vector<json>& items, int page, int per_page, const Envelope& envelope) {
  json slice = json::array();
  for (size_t i = static_cast<size_t>(page - 1) * per_page;
       i < items.size() && i < static_cast<size_t>(page) * per_page; ++i) {
    slice.push_back(items[i]);
  }
  json body = {{"instances", slice}};
  if (envelope.total_count) body["total_count"] = items.size();
  if (envelope.page) body["page"] = page;
  if (envelope.per_page) body["per_page"] = per_page;
  return body;
}

std::set<std::string> IdsOf(const std::vector<Instance>& instances) {
  std::set<std::string> ids;
  for (const Instance& i : instances) ids.insert(i.id);
  return ids;
}

std::set<std::string> IdsOf(const std::vector<json>& items) {
  std::set<std::string> ids;
  for (const json& i : items) ids.insert(i["id"].get<std::string>());
  return ids;
}

class GenesisPagingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shared_ = std::make_shared<FakeTransport::Shared>();
    GenesisOptions options;
    options.base_url = "http://fake/compute/v1";
    options.token = "paging-test-token";
    options.clock = &clock_;
    options.sleeper = [this](Clock::Duration d) { clock_.Advance(d); };
    options.jitter_seed = 7;
    client_ = MakeGenesisClient(options, std::make_unique<FakeTransport>(shared_));
  }

  // Serves pages of whatever `collection()` returns at the time of each request.
  void Serve(std::function<std::vector<json>()> collection, Envelope envelope = {}) {
    shared_->handler = [collection, envelope](const HttpRequest& req) {
      auto [page, per_page] = Paging(req.path);
      return Answer(200, PageOf(collection(), page, per_page, envelope).dump());
    };
  }

  size_t RequestCount() const { return shared_->requests.size(); }

  FakeClock clock_;
  std::shared_ptr<FakeTransport::Shared> shared_;
  std::unique_ptr<GenesisClient> client_;
};

TEST_F(GenesisPagingTest, AsksForTheApiMaximumPageSize) {
  const std::vector<json> all = Items(5);
  Serve([&] { return all; });
  ASSERT_TRUE(client_->ListInstances().ok());
  ASSERT_EQ(RequestCount(), 1u);
  EXPECT_EQ(shared_->requests[0].path, "/instances?page=1&per_page=100");
}

TEST_F(GenesisPagingTest, MissingTotalCountPagesUntilAShortPage) {
  const std::vector<json> all = Items(237);
  Serve([&] { return all; }, Envelope{false, true, true});
  auto got = client_->ListInstances();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->size(), 237u);
  EXPECT_EQ(IdsOf(*got), IdsOf(all));
  EXPECT_EQ(RequestCount(), 3u) << "the short third page ends the list";
}

TEST_F(GenesisPagingTest, MissingTotalCountOnAFullLastPageReadsOneEmptyPage) {
  const std::vector<json> all = Items(200);
  Serve([&] { return all; }, Envelope{false, true, true});
  auto got = client_->ListInstances();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->size(), 200u);
  EXPECT_EQ(RequestCount(), 3u);
}

TEST_F(GenesisPagingTest, WithoutTotalOrPerPageOnlyAnEmptyPageEndsTheList) {
  // A server that silently serves 50 per page and says neither total_count nor per_page:
  // a 50-item page is not proof of the end.
  const std::vector<json> all = Items(120);
  shared_->handler = [&](const HttpRequest& req) {
    auto [page, asked] = Paging(req.path);
    (void)asked;
    return Answer(200, PageOf(all, page, 50, {false, true, false}).dump());
  };
  auto got = client_->ListInstances();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(IdsOf(*got), IdsOf(all));
  EXPECT_EQ(RequestCount(), 4u);  // 50, 50, 20, then the empty page
}

TEST_F(GenesisPagingTest, WronglyTypedEnvelopeIsAnErrorNotAnException) {
  const std::vector<std::pair<const char*, json>> bad = {
      {"total_count", "150"}, {"total_count", 1.5},  {"total_count", -1},
      {"total_count", true},  {"page", "1"},         {"per_page", json::object()},
      {"per_page", 0},        {"instances", "none"}, {"instances", json::object()},
  };
  for (const auto& [field, value] : bad) {
    SetUp();
    shared_->handler = [&, field = std::string(field), value = value](const HttpRequest&) {
      json body = PageOf(Items(3), 1, 100, {});
      body[field] = value;
      return Answer(200, body.dump());
    };
    StatusOr<std::vector<Instance>> got = Status::Internal("not called");
    ASSERT_NO_THROW(got = client_->ListInstances()) << field << "=" << value;
    ASSERT_FALSE(got.ok()) << field << "=" << value;
    EXPECT_TRUE(got.status().IsUnavailable()) << got.status().ToString();
    EXPECT_FALSE(got.status().retryable()) << "a malformed answer does not heal by retrying";
    EXPECT_EQ(RequestCount(), 1u) << field;
  }
}

TEST_F(GenesisPagingTest, ItemsWithoutIdsAreMalformed) {
  shared_->handler = [](const HttpRequest&) {
    json body = PageOf(Items(2), 1, 100, {});
    body["instances"].push_back(42);
    body["total_count"] = 3;
    return Answer(200, body.dump());
  };
  auto got = client_->ListInstances();
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(got.status().IsUnavailable()) << got.status().ToString();
}

TEST_F(GenesisPagingTest, TotalCountLargerThanDeliveredIsAnError) {
  // total_count says 250 but the pages hold 100, 100 and 30 items.
  for (const bool short_page : {true, false}) {
    SetUp();
    const std::vector<json> delivered = Items(short_page ? 230 : 200);
    shared_->handler = [&](const HttpRequest& req) {
      auto [page, per_page] = Paging(req.path);
      json body = PageOf(delivered, page, per_page, {});
      body["total_count"] = 250;
      return Answer(200, body.dump());
    };
    auto got = client_->ListInstances();
    ASSERT_FALSE(got.ok()) << "a list short of total_count must never be returned";
    EXPECT_TRUE(got.status().IsUnavailable()) << got.status().ToString();
    EXPECT_TRUE(got.status().retryable());
    EXPECT_THAT(got.status().message(), ::testing::HasSubstr("250"));
  }
}

TEST_F(GenesisPagingTest, MoreItemsThanTotalCountIsAnError) {
  shared_->handler = [](const HttpRequest&) {
    json body = PageOf(Items(5), 1, 100, {});
    body["total_count"] = 4;
    return Answer(200, body.dump());
  };
  EXPECT_TRUE(client_->ListInstances().status().IsUnavailable());
}

TEST_F(GenesisPagingTest, ConcurrentInsertShiftingPagesRestartsTheListing) {
  // Newest first: an instance created between page 1 and page 2 pushes the last item of
  // page 1 onto page 2, where it appears a second time. The listing is restarted and the
  // second, undisturbed one is returned complete.
  std::vector<json> all = Items(150);
  int requests = 0;
  Serve([&] {
    if (++requests == 2) all.insert(all.begin(), Item("new"));
    return all;
  });
  auto got = client_->ListInstances();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->size(), 151u);
  EXPECT_EQ(IdsOf(*got), IdsOf(all));
  EXPECT_EQ(RequestCount(), 4u) << "2 pages shifted, then 2 pages again";
}

TEST_F(GenesisPagingTest, ListThatKeepsShiftingIsAnErrorNotAShortList) {
  std::vector<json> all = Items(150);
  int created = 0;
  Serve([&] {
    all.insert(all.begin(), Item("new" + std::to_string(created++)));
    return all;
  });
  auto got = client_->ListInstances();
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(got.status().IsUnavailable()) << got.status().ToString();
  EXPECT_TRUE(got.status().retryable());
  EXPECT_THAT(got.status().message(), ::testing::HasSubstr("served twice"));
  EXPECT_EQ(RequestCount(), 6u) << "three listings of two pages each";
}

TEST_F(GenesisPagingTest, DeletionInFrontOfTheReadPositionRestartsTheListing) {
  // Oldest first: deleting i3 between the pages moves i100 onto page 1, which was already
  // read. total_count falls from 150 to 149, which is the only trace of it.
  std::vector<json> all = Items(150);
  int requests = 0;
  Serve([&] {
    if (++requests == 2) all.erase(all.begin() + 3);
    return all;
  });
  auto got = client_->ListInstances();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(IdsOf(*got), IdsOf(all));
  EXPECT_EQ(got->size(), 149u);
  EXPECT_EQ(IdsOf(*got).count("i100"), 1u);
}

TEST_F(GenesisPagingTest, CreatesBehindTheReadPositionDoNotFailTheListing) {
  // Oldest first: an instance created while paging lands on the last page; nothing read
  // so far moved, so the listing stands (total_count may grow, never shrink).
  std::vector<json> all = Items(150);
  int requests = 0;
  Serve([&] {
    if (++requests == 2) all.push_back(Item("new"));
    return all;
  });
  auto got = client_->ListInstances();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->size(), 151u);
  EXPECT_EQ(RequestCount(), 2u);
}

TEST_F(GenesisPagingTest, RepeatedPageIsAnError) {
  // A server that clamps a page past the end to the last page serves page 1 again.
  const std::vector<json> all = Items(100);
  shared_->handler = [&](const HttpRequest&) {
    json body = PageOf(all, 1, 100, {});
    body["total_count"] = 150;
    return Answer(200, body.dump());
  };
  auto got = client_->ListInstances();
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(got.status().IsUnavailable()) << got.status().ToString();
  // Without the page field the repeat still shows as ids served twice.
  SetUp();
  shared_->handler = [&](const HttpRequest&) {
    json body = PageOf(all, 1, 100, Envelope{false, false, true});
    return Answer(200, body.dump());
  };
  got = client_->ListInstances();
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(got.status().message(), ::testing::HasSubstr("served twice"));
}

TEST_F(GenesisPagingTest, FindByNameOnAnUnprovenListIsAnErrorNotAbsent) {
  // The name scan the controller runs before a create: "not found" would mean "create it".
  const std::vector<json> delivered = Items(100);
  shared_->handler = [&](const HttpRequest& req) {
    auto [page, per_page] = Paging(req.path);
    json body = PageOf(delivered, page, per_page, {});
    body["total_count"] = 101;
    return Answer(200, body.dump());
  };
  auto found = client_->FindInstanceByName("n-i100");
  ASSERT_FALSE(found.ok()) << "absent from an incomplete list is not proof of absence";
  EXPECT_TRUE(found.status().IsUnavailable());
}

TEST_F(GenesisPagingTest, OtherListsUseTheSamePager) {
  shared_->handler = [](const HttpRequest& req) {
    json keys = json::array();
    auto [page, per_page] = Paging(req.path);
    for (int i = 0; page == 1 && i < per_page; ++i) {
      keys.push_back({{"id", "k" + std::to_string(i)}, {"name", "k"}, {"value", "v"}});
    }
    return Answer(200, json{{"ssh_keys", keys}, {"page", page}, {"per_page", per_page}}.dump());
  };
  auto keys = client_->ListSshKeys();
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(keys->size(), 100u);
  EXPECT_EQ(RequestCount(), 2u);
}

}  // namespace
}  // namespace pygrid::cloud::genesis
