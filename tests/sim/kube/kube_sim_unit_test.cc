// Unit tests of kube-sim's pure parts: schema pruning/defaulting/validation messages,
// selectors, patches and field ownership, printer-column JSONPath and time formatting; and the
// scale subresource of custom resources, both its pure parts and through ApiServer::Handle.
#include <gtest/gtest.h>

#include <sstream>

#include "sim/kube/api_server.h"
#include "sim/kube/decode.h"
#include "sim/kube/go_regexp.h"
#include "sim/kube/patch.h"
#include "sim/kube/resource_types.h"
#include "sim/kube/scale.h"
#include "sim/kube/schema.h"
#include "sim/kube/selectors.h"
#include "sim/kube/table.h"
#include "sim/kube/util.h"

namespace pygrid::sim::kube {
namespace {

json Schema() {
  return json::parse(R"({
    "type": "object",
    "properties": {
      "spec": {"type": "object", "required": ["size"], "properties": {
        "size": {"type": "integer", "minimum": 1, "maximum": 100},
        "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
        "name": {"type": "string", "maxLength": 3, "pattern": "^[a-z]+$"},
        "nested": {"type": "object", "default": {}, "properties": {
          "depth": {"type": "integer", "default": 3}}},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}}}}}})");
}

TEST(SchemaTest, PrunesUnknownFieldsButKeepsPreservedAndRootMetadata) {
  json obj = json::parse(
      R"({"apiVersion":"g/v","kind":"K","metadata":{"name":"x","odd":1},
          "spec":{"size":1,"bogus":2,"free":{"any":{"thing":1}}},"top":1})");
  std::vector<std::string> pruned;
  PruneUnknownFields(Schema(), &obj, &pruned);
  EXPECT_EQ(pruned, (std::vector<std::string>{"spec.bogus", "top"}));
  EXPECT_EQ(obj["spec"]["free"]["any"]["thing"], 1);
  EXPECT_EQ(obj["metadata"]["odd"], 1);
}

TEST(SchemaTest, DefaultsNestedObjectsTopDown) {
  json obj = json::parse(R"({"spec":{"size":1}})");
  ApplyDefaults(Schema(), &obj);
  EXPECT_EQ(obj["spec"]["color"], "red");
  EXPECT_EQ(obj["spec"]["nested"]["depth"], 3);
  json null_color = json::parse(R"({"spec":{"size":1,"color":null}})");
  ApplyDefaults(Schema(), &null_color);
  EXPECT_EQ(null_color["spec"]["color"], "red");
}

TEST(SchemaTest, ValidationMessagesMatchTheRealServer) {
  json obj =
      json::parse(R"({"spec":{"size":500,"color":"pink","name":"AB","tags":["a","b","c"]}})");
  std::vector<FieldError> errs = ValidateObject(Schema(), obj);
  std::vector<std::string> text;
  for (const auto& e : errs) text.push_back(e.field + ": " + e.message);
  EXPECT_NE(std::find(text.begin(), text.end(),
                      "spec.size: Invalid value: 500: spec.size in body should be less than or "
                      "equal to 100"),
            text.end());
  EXPECT_NE(
      std::find(text.begin(), text.end(),
                "spec.color: Unsupported value: \"pink\": supported values: \"red\", \"blue\""),
      text.end());
  EXPECT_NE(std::find(text.begin(), text.end(),
                      "spec.name: Invalid value: \"AB\": spec.name in body should match "
                      "'^[a-z]+$'"),
            text.end());
  EXPECT_NE(
      std::find(text.begin(), text.end(), "spec.tags: Too many: 3: must have at most 2 items"),
      text.end());
  std::vector<FieldError> req = ValidateObject(Schema(), json::parse(R"({"spec":{}})"));
  ASSERT_EQ(req.size(), 1u);
  EXPECT_EQ(req[0].field, "spec.size");
  EXPECT_EQ(req[0].message, "Required value");
  std::vector<FieldError> type = ValidateObject(Schema(), json::parse(R"({"spec":{"size":"x"}})"));
  ASSERT_EQ(type.size(), 1u);
  EXPECT_EQ(type[0].message,
            "Invalid value: \"string\": spec.size in body must be of type integer: \"string\"");
}

TEST(SchemaTest, StringChecksStopAtTheFirstFailureLikeKubeOpenapi) {
  // maxLength, then minLength, then pattern: an over-long value is not matched (and a
  // 65,536-character value no longer crashes the matcher).
  std::vector<FieldError> errs =
      ValidateObject(Schema(), json{{"spec", {{"size", 1}, {"name", "ABCD"}}}});
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].field, "spec.name");
  EXPECT_EQ(errs[0].reason, "FieldValueTooLong");
  EXPECT_EQ(errs[0].message, "Too long: may not be more than 3 bytes");
  json long_pattern = json::parse(R"({"type":"object","properties":{"image":{"type":"string",
      "pattern":"^[A-Za-z0-9][A-Za-z0-9 ._:+/-]*$"}}})");
  EXPECT_TRUE(ValidateObject(long_pattern, json{{"image", std::string(3 << 20, 'a')}}).empty());
  EXPECT_EQ(ValidateObject(long_pattern, json{{"image", std::string(65536, 'a') + "!"}}).size(),
            1u);
}

TEST(SchemaTest, JunctorsReportLikeApiextensions) {
  json schema = json::parse(R"({"type":"object","properties":{
      "port":{"type":"integer","minimum":0,"maximum":65535,"not":{"enum":[22]}},
      "one":{"type":"string","oneOf":[{"pattern":"^a"},{"pattern":"b$"}]},
      "any":{"type":"object","anyOf":[{"required":["x"]},{"required":["y"]}]},
      "all":{"type":"integer","allOf":[{"minimum":1},{"maximum":5}]}}})");
  EXPECT_TRUE(ValidateObject(schema, json{{"port", 2222}}).empty());
  auto texts = [&](const json& obj) {
    std::vector<std::string> out;
    for (const auto& e : ValidateObject(schema, obj)) {
      out.push_back(e.field + ": " + e.message + " (" + e.reason + ")");
    }
    return out;
  };
  EXPECT_EQ(texts(json{{"port", 22}}),
            std::vector<std::string>{"<nil>: Invalid value: \"\": \"port\" must not validate the "
                                     "schema (not) (FieldValueInvalid)"});
  EXPECT_EQ(texts(json{{"one", "ab"}}),
            std::vector<std::string>{"<nil>: Invalid value: \"\": \"one\" must validate one and "
                                     "only one schema (oneOf). Found 2 valid alternatives "
                                     "(FieldValueInvalid)"});
  EXPECT_EQ(texts(json{{"any", json::object()}}),
            (std::vector<std::string>{"<nil>: Invalid value: \"\": \"any\" must validate at least "
                                      "one schema (anyOf) (FieldValueInvalid)",
                                      "any.x: Required value (FieldValueRequired)"}));
  EXPECT_EQ(texts(json{{"all", 9}}).back(),
            "<nil>: Invalid value: \"\": \"all\" must validate all the schemas (allOf) "
            "(FieldValueInvalid)");
}

TEST(GoRegexpTest, MatchesLikeGoRegexp) {
  struct Case {
    const char* pattern;
    const char* text;
    bool match;
  };
  const Case cases[] = {
      {"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "my-name", true},
      {"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "my-name-", false},
      {"^$|^[a-zA-Z0-9][a-zA-Z0-9._-]*$", "", true},
      {"^$|^[a-zA-Z0-9][a-zA-Z0-9._-]*$", "-x", false},
      {"b", "abc", true},  // unanchored search, as Go's MatchString
      {"^b", "abc", false},
      {"c$", "abc\n", false},  // $ is end of text without (?m)
      {"(?m)c$", "abc\nx", true},
      {"a.c", "a\nc", false},
      {"(?s)a.c", "a\nc", true},
      {"(?i)^HeLLo$", "hello", true},
      {"^x{2,3}$", "xxxx", false},
      {"^x{2,3}$", "xxx", true},
      {"^x{2,}$", "xxxxxxx", true},
      {"^a{,2}$", "a{,2}", true},  // not a repeat: a literal brace, as in Go
      {"^\\d+\\.\\w\\s$", "12.a ", true},
      {"^[[:alpha:]]+$", "abcXYZ", true},
      {"^[^a-c]+$", "xyz", true},
      {"^[^a-c]+$", "xaz", false},
      {"\\bfoo\\b", "a foo b", true},
      {"\\bfoo\\b", "afoob", false},
      {"^(?:ab|cd)+$", "abcdab", true},
      {"^(?P<n>a)(?<m>b)$", "ab", true},
      {"^\\x41\\x{263a}$", "A\u263a", true},
      {"^.$", "\xff", true},  // an invalid byte is one rune (U+FFFD)
      {"^(a*)*$", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", false},
      {"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|"
       "[1-9]?[0-9])/([0-9]|[12][0-9]|3[0-2])$",
       "203.0.113.0/24", true},
  };
  for (const auto& c : cases) {
    GoRegexp re;
    std::string err;
    ASSERT_TRUE(GoRegexp::Compile(c.pattern, &re, &err)) << c.pattern << ": " << err;
    EXPECT_EQ(re.Search(c.text), c.match) << c.pattern << " on " << c.text;
  }
}

TEST(GoRegexpTest, RejectsWhatGoRejects) {
  for (const char* bad : {"(", "a)", "[a", "*a", "a**", "a{1001}", "x{3,2}", "\\1", "(?=a)",
                          "[z-a]", "\\pL", "a\\"}) {
    GoRegexp re;
    std::string err;
    EXPECT_FALSE(GoRegexp::Compile(bad, &re, &err)) << bad;
    EXPECT_EQ(err.rfind("error parsing regexp: ", 0), 0u) << bad << ": " << err;
  }
  std::string deep(1001, '(');
  deep += std::string(1001, ')');
  GoRegexp re;
  std::string err;
  EXPECT_FALSE(GoRegexp::Compile(deep, &re, &err));
  EXPECT_NE(err.find("nests too deeply"), std::string::npos);
}

TEST(GoRegexpTest, LinearOnLongInput) {
  GoRegexp re;
  std::string err;
  ASSERT_TRUE(GoRegexp::Compile("^[A-Za-z0-9][A-Za-z0-9 ._:+/-]*$", &re, &err));
  std::string s(3 << 20, 'a');
  EXPECT_TRUE(re.Search(s));
  s.back() = '!';
  EXPECT_FALSE(re.Search(s));
}

TEST(DecodeTest, BuiltinsRefuseWrongTypesLikeEncodingJson) {
  Registry registry;
  const ResourceType& secret = *registry.Find("", "v1", "secrets");
  std::string err;
  json obj = json::parse(R"({"metadata":{"name":5}})");
  EXPECT_FALSE(DecodeRequestObject(secret, &obj, &err));
  EXPECT_EQ(err,
            "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type "
            "string");
  obj = json::parse(R"({"metadata":{"ownerReferences":[{"uid":[]}]}})");
  EXPECT_FALSE(DecodeRequestObject(secret, &obj, &err));
  EXPECT_EQ(err,
            "json: cannot unmarshal array into Go struct field OwnerReference.metadata."
            "ownerReferences.uid of type types.UID");
  obj = json::parse(R"({"data":{"k":1}})");
  EXPECT_FALSE(DecodeRequestObject(secret, &obj, &err));
  EXPECT_EQ(err, "json: cannot unmarshal number into Go struct field Secret.data of type []uint8");
  const ResourceType& lease = *registry.Find("coordination.k8s.io", "v1", "leases");
  obj = json::parse(R"({"spec":{"leaseDurationSeconds":1.5}})");
  EXPECT_FALSE(DecodeRequestObject(lease, &obj, &err));
  EXPECT_EQ(err,
            "json: cannot unmarshal number 1.5 into Go struct field LeaseSpec.spec."
            "leaseDurationSeconds of type int32");
  // null leaves a field unset; unknown metadata fields are gone.
  obj = json::parse(R"({"metadata":{"name":"a","labels":null,"odd":1},"type":null})");
  EXPECT_TRUE(DecodeRequestObject(secret, &obj, &err)) << err;
  EXPECT_EQ(obj, json::parse(R"({"metadata":{"name":"a"}})"));
}

TEST(DecodeTest, CustomResourcesDropMalformedMetadata) {
  Registry registry;
  std::string err;
  ASSERT_TRUE(registry.RegisterCrd(json::parse(R"({"metadata":{"name":"ws.g.dev"},
      "spec":{"group":"g.dev","names":{"plural":"ws","kind":"W"},"scope":"Namespaced",
              "versions":[{"name":"v1","served":true,"storage":true}]}})"),
                                   &err))
      << err;
  const ResourceType& w = *registry.Find("g.dev", "v1", "ws");
  json obj = json::parse(R"({"metadata":{"name":"a","labels":{"x":1},"finalizers":"f"},
                             "spec":{"any":[1]}})");
  EXPECT_TRUE(DecodeRequestObject(w, &obj, &err)) << err;
  EXPECT_EQ(obj, json::parse(R"({"metadata":{"name":"a"},"spec":{"any":[1]}})"));
  obj = json::parse(R"({"metadata":"x"})");
  EXPECT_FALSE(DecodeRequestObject(w, &obj, &err));
  EXPECT_EQ(err, "invalid metadata: expected object, got string");
}

TEST(UtilTest, BodiesAreSanitizedAndDepthLimited) {
  json out;
  std::string err;
  ASSERT_TRUE(ParseBody("{\"a\":\"x\xff\xc3\"}", &out, &err)) << err;
  EXPECT_EQ(out["a"], "x\xEF\xBF\xBD\xEF\xBF\xBD");
  std::string deep = std::string(10001, '[') + std::string(10001, ']');
  EXPECT_FALSE(ParseBody(deep, &out, &err));
  EXPECT_EQ(err, "json: exceeded max depth");
  ASSERT_TRUE(ParseBody(std::string(10000, '[') + std::string(10000, ']'), &out, &err));
  EXPECT_EQ(ToValidUtf8("ok\xed\xa0\x80"), "ok\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(DumpJson(json("a\xff")), "\"a\xEF\xBF\xBD\"");
}

TEST(SchemaTest, DefinitionNameReversesTheGroup) {
  EXPECT_EQ(OpenApiDefinitionName("distributor.pygrid.dev", "v1alpha1", "PyGridCluster"),
            "dev.pygrid.distributor.v1alpha1.PyGridCluster");
}

TEST(SelectorTest, LabelOperators) {
  json obj = json::parse(R"({"metadata":{"labels":{"tier":"web","env":"prod"}}})");
  auto match = [&](const std::string& s) {
    Selector sel;
    std::string err;
    EXPECT_TRUE(Selector::ParseLabels(s, &sel, &err)) << err;
    return sel.Matches(obj);
  };
  EXPECT_TRUE(match("tier=web"));
  EXPECT_TRUE(match("tier==web,env"));
  EXPECT_FALSE(match("tier!=web"));
  EXPECT_TRUE(match("tier in (db, web)"));
  EXPECT_FALSE(match("tier notin (web)"));
  EXPECT_FALSE(match("!env"));
  EXPECT_TRUE(match("!missing"));
  EXPECT_TRUE(match(""));
}

TEST(SelectorTest, FieldSelectorsAndUnsupportedFields) {
  json ev =
      json::parse(R"({"metadata":{"name":"e","namespace":"ns"},"involvedObject":{"name":"m"}})");
  Selector sel;
  std::string err;
  ASSERT_TRUE(
      Selector::ParseFields("metadata.namespace=ns,involvedObject.name=m", "Event", &sel, &err));
  EXPECT_TRUE(sel.Matches(ev));
  ASSERT_TRUE(Selector::ParseFields("metadata.name!=e", "Event", &sel, &err));
  EXPECT_FALSE(sel.Matches(ev));
  EXPECT_FALSE(Selector::ParseFields("spec.x=1", "ConfigMap", &sel, &err));
  EXPECT_EQ(err, "field label not supported: spec.x");
}

TEST(PatchTest, StrategicMergeDirectivesAndMergeKeys) {
  json target = json::parse(
      R"({"metadata":{"finalizers":["a"]},"data":{"x":"1","y":"2"},
          "status":{"conditions":[{"type":"Ready","status":"False"}]}})");
  json patch = json::parse(
      R"({"metadata":{"finalizers":["b"]},"data":{"y":null,"z":"3"},
          "status":{"conditions":[{"type":"Ready","status":"True"},{"type":"Other","status":"True"}]},
          "$setElementOrder/x":[]})");
  json out;
  std::string err;
  ASSERT_TRUE(ApplyStrategicMergePatch(target, patch, &out, &err)) << err;
  EXPECT_EQ(out["metadata"]["finalizers"], json::parse(R"(["a","b"])"));
  EXPECT_EQ(out["data"], json::parse(R"({"x":"1","z":"3"})"));
  EXPECT_EQ(out["status"]["conditions"].size(), 2u);
  EXPECT_EQ(out["status"]["conditions"][0]["status"], "True");
  EXPECT_FALSE(out.contains("$setElementOrder/x"));
}

TEST(PatchTest, JsonPatchTestFailureIsAnError) {
  json out;
  std::string err;
  EXPECT_FALSE(ApplyJsonPatch(json::parse(R"({"a":1})"),
                              json::parse(R"([{"op":"test","path":"/a","value":2}])"), &out, &err));
  EXPECT_TRUE(ApplyJsonPatch(json::parse(R"({"a":1})"),
                             json::parse(R"([{"op":"replace","path":"/a","value":2}])"), &out,
                             &err));
  EXPECT_EQ(out["a"], 2);
}

TEST(PatchTest, JsonPatchBelowAScalarIsAnErrorNotAnAbort) {
  // nlohmann asserted here (the fuzz test's seed 8 killed kube-sim with it).
  json out;
  std::string err;
  EXPECT_FALSE(ApplyJsonPatch(json{{"spec", 1}}, json::parse(R"([{"op":"add","path":"","value":5},
                                              {"op":"add","path":"/","value":null}])"),
                              &out, &err));
  EXPECT_EQ(err, "add operation does not apply: doc is missing path: \"/\": missing value");
  EXPECT_FALSE(ApplyJsonPatch(json{{"spec", 1}},
                              json::parse(R"([{"op":"remove","path":"/spec/x"}])"), &out, &err));
  ASSERT_TRUE(ApplyJsonPatch(json{{"spec", 1}},
                             json::parse(R"([{"op":"add","path":"/spec","value":{"a":1}},
                                             {"op":"add","path":"/spec/b","value":2}])"),
                             &out, &err))
      << err;
  EXPECT_EQ(out, json::parse(R"({"spec":{"a":1,"b":2}})"));
}

TEST(PatchTest, FieldsV1RoundTripsAndSkipsServerOwnedMetadata) {
  json obj = json::parse(
      R"({"apiVersion":"v1","kind":"K","metadata":{"name":"n","uid":"u","labels":{"a":"b"}},
          "spec":{"x":1,"list":[1,2],"empty":{}}})");
  std::vector<FieldPath> leaves = LeafPaths(obj);
  std::vector<FieldPath> expected = {
      {"metadata", "labels", "a"}, {"spec", "empty"}, {"spec", "list"}, {"spec", "x"}};
  EXPECT_EQ(leaves, expected);
  std::vector<FieldPath> back = FromFieldsV1(ToFieldsV1(leaves));
  std::sort(back.begin(), back.end());
  EXPECT_EQ(back, expected);
  EXPECT_EQ(PathString({"spec", "x"}), ".spec.x");
}

TEST(TableTest, JsonPathEvaluation) {
  json obj = json::parse(R"({"status":{"conditions":[{"type":"Ready"}],"a.b":{"c":1}}})");
  EXPECT_EQ(EvaluateJsonPath(obj, ".status.conditions[0].type"), "Ready");
  EXPECT_EQ(EvaluateJsonPath(obj, ".status['a.b'].c"), 1);
  EXPECT_TRUE(EvaluateJsonPath(obj, ".status.missing").is_null());
}

TEST(UtilTest, HumanDurationAndBase64) {
  using std::chrono::seconds;
  EXPECT_EQ(HumanDuration(seconds(5)), "5s");
  EXPECT_EQ(HumanDuration(seconds(185)), "3m5s");
  EXPECT_EQ(HumanDuration(seconds(3600 * 5 + 60 * 3)), "5h3m");
  EXPECT_EQ(HumanDuration(seconds(86400 * 3)), "3d");
  EXPECT_EQ(Base64Encode("abc"), "YWJj");
  EXPECT_EQ(Base64Encode("ab"), "YWI=");
  std::string out;
  ASSERT_TRUE(Base64Decode("YWI=", &out));
  EXPECT_EQ(out, "ab");
  EXPECT_FALSE(Base64Decode("!!!!", &out));
}

TEST(UtilTest, ParsesYamlBodiesWithKubernetesScalars) {
  json out;
  std::string err;
  ASSERT_TRUE(ParseBody("a: 1\nb: \"2\"\nc: true\nd: [x]\ne: ~\n", &out, &err)) << err;
  EXPECT_EQ(out["a"], 1);
  EXPECT_EQ(out["b"], "2");
  EXPECT_EQ(out["c"], true);
  EXPECT_EQ(out["d"][0], "x");
  EXPECT_TRUE(out["e"].is_null());
}

TEST(ScaleTest, ScaleObjectFollowsThePathsAndTheGoType) {
  const ScalePaths paths{".spec.workers.replicas", ".status.readyWorkers", ""};
  json cr = json::parse(R"({"apiVersion":"g/v1","kind":"K",
      "metadata":{"name":"mnist","namespace":"default","uid":"u-1","resourceVersion":"7",
                  "generation":3,"labels":{"a":"b"},"creationTimestamp":"2026-01-01T00:00:00Z"},
      "spec":{"workers":{"replicas":4}}})");
  json scale;
  bool found = false;
  std::string err;
  ASSERT_TRUE(ScaleFromCustomResource(cr, paths, &scale, &found, &err)) << err;
  EXPECT_TRUE(found);
  EXPECT_EQ(scale, json::parse(R"({"apiVersion":"autoscaling/v1","kind":"Scale",
      "metadata":{"name":"mnist","namespace":"default","uid":"u-1","resourceVersion":"7",
                  "creationTimestamp":"2026-01-01T00:00:00Z"},
      "spec":{"replicas":4},"status":{"replicas":0}})"));
  // spec.replicas is omitempty; status.replicas is not; the selector only with its path.
  cr["spec"]["workers"]["replicas"] = 0;
  cr["status"] = {{"readyWorkers", 2}, {"selector", "app=x"}};
  ASSERT_TRUE(ScaleFromCustomResource(
      cr, {".spec.workers.replicas", ".status.readyWorkers", ".status.selector"}, &scale, &found,
      &err));
  EXPECT_EQ(scale["spec"], json::object());
  EXPECT_EQ(scale["status"], json::parse(R"({"replicas":2,"selector":"app=x"})"));
  cr["spec"]["workers"].erase("replicas");
  ASSERT_TRUE(ScaleFromCustomResource(cr, paths, &scale, &found, &err));
  EXPECT_FALSE(found);
  // unstructured's accessor errors, word for word.
  cr["spec"]["workers"]["replicas"] = 2.5;
  EXPECT_FALSE(ScaleFromCustomResource(cr, paths, &scale, &found, &err));
  EXPECT_EQ(err,
            ".spec.workers.replicas accessor error: 2.5 is of the type float64, expected int64");
  cr["spec"]["workers"] = "four";
  EXPECT_FALSE(ScaleFromCustomResource(cr, paths, &scale, &found, &err));
  EXPECT_EQ(err,
            ".spec.workers.replicas accessor error: four is of the type string, expected "
            "map[string]interface{}");
  EXPECT_FALSE(SetSpecReplicas(&cr, paths, 3, &err));
  EXPECT_EQ(err, "value cannot be set because .spec.workers is not a map[string]interface{}");
  cr["spec"] = json::object();
  ASSERT_TRUE(SetSpecReplicas(&cr, paths, 3, &err));
  EXPECT_EQ(cr["spec"], json::parse(R"({"workers":{"replicas":3}})"));
}

TEST(ScaleTest, EveryWriteChecksTheScalePaths) {
  const ScalePaths paths{".spec.replicas", ".status.replicas", ".status.selector"};
  json cr = json::parse(
      R"({"spec":{"replicas":-1},"status":{"replicas":3000000000,"selector":{"a":"b"}}})");
  std::vector<std::string> text;
  for (const auto& e : ValidateScaleFields(cr, paths)) text.push_back(e.field + ": " + e.message);
  EXPECT_EQ(text, (std::vector<std::string>{
                      ".spec.replicas: Invalid value: -1: should be a non-negative integer",
                      ".status.replicas: Invalid value: 3000000000: should be less than or equal "
                      "to 2147483647",
                      ".status.selector: Invalid value: \"\": .status.selector accessor error: "
                      "{\"a\":\"b\"} is of the type map[string]interface {}, expected string"}));
  EXPECT_TRUE(ValidateScaleFields(json::parse(R"({"spec":{}})"), paths).empty());
}

// A CRD whose versions differ only in /scale, served by an in-process ApiServer.
class ScaleSubresourceTest : public ::testing::Test {
 protected:
  static constexpr char kToken[] = "scale-test-token";
  static constexpr char kWidget[] = "/apis/test.kubesim.dev/v1/namespaces/default/widgets/w";

  ScaleSubresourceTest() : api_({kToken, 100, 1000}) {
    json crd = json::parse(R"({"apiVersion":"apiextensions.k8s.io/v1",
      "kind":"CustomResourceDefinition","metadata":{"name":"widgets.test.kubesim.dev"},
      "spec":{"group":"test.kubesim.dev","scope":"Namespaced",
        "names":{"kind":"Widget","plural":"widgets"},
        "versions":[
          {"name":"v1","served":true,"storage":true,
           "subresources":{"status":{},"scale":{"specReplicasPath":".spec.replicas",
                                                "statusReplicasPath":".status.ready"}},
           "schema":{"openAPIV3Schema":{"type":"object","properties":{
             "spec":{"type":"object","properties":{
               "replicas":{"type":"integer","minimum":0,"maximum":100},
               "color":{"type":"string"}}},
             "status":{"type":"object","properties":{"ready":{"type":"integer"}}}}}}},
          {"name":"v2","served":true,"storage":false,"subresources":{"status":{}},
           "schema":{"openAPIV3Schema":{"type":"object",
             "x-kubernetes-preserve-unknown-fields":true}}}]}})");
    EXPECT_EQ(Call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).first,
              201);
    EXPECT_EQ(Call("POST", "/apis/test.kubesim.dev/v1/namespaces/default/widgets",
                   json::parse(R"({"apiVersion":"test.kubesim.dev/v1","kind":"Widget",
                       "metadata":{"name":"w"},"spec":{"replicas":2,"color":"red"}})"))
                  .first,
              201);
  }

  std::pair<int, json> Call(const std::string& method, const std::string& target,
                            const json& body = nullptr,
                            const std::string& content_type = "application/json") {
    HttpRequest req;
    req.method = method;
    req.target = target;
    req.path = target.substr(0, target.find('?'));
    std::stringstream query(
        target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1));
    for (std::string pair; std::getline(query, pair, '&');) {
      req.query.emplace(pair.substr(0, pair.find('=')), pair.substr(pair.find('=') + 1));
    }
    req.headers = {{"Authorization", std::string("Bearer ") + kToken},
                   {"Content-Type", content_type},
                   {"User-Agent", "scaler/v1"}};
    if (!body.is_null()) req.body = body.dump();
    HttpResponse resp = api_.Handle(req);
    return {resp.status, json::parse(resp.body, nullptr, false)};
  }

  json Widget() { return Call("GET", kWidget).second; }

  ApiServer api_;
};

TEST_F(ScaleSubresourceTest, DiscoveryAndGetShowTheScale) {
  auto [code, list] = Call("GET", "/apis/test.kubesim.dev/v1");
  ASSERT_EQ(code, 200);
  EXPECT_EQ(list["resources"][2], json::parse(R"({"name":"widgets/scale","singularName":"",
      "namespaced":true,"group":"autoscaling","version":"v1","kind":"Scale",
      "verbs":["get","patch","update"]})"));
  EXPECT_EQ(Call("GET", "/apis/test.kubesim.dev/v2").second["resources"].size(), 2u);
  auto [got, scale] = Call("GET", std::string(kWidget) + "/scale");
  ASSERT_EQ(got, 200);
  const json w = Widget();
  EXPECT_EQ(scale["apiVersion"], "autoscaling/v1");
  EXPECT_EQ(scale["kind"], "Scale");
  EXPECT_EQ(scale["metadata"]["uid"], w["metadata"]["uid"]);
  EXPECT_EQ(scale["metadata"]["resourceVersion"], w["metadata"]["resourceVersion"]);
  EXPECT_EQ(scale["spec"], json::parse(R"({"replicas":2})"));
  EXPECT_EQ(scale["status"], json::parse(R"({"replicas":0})"));
  // A version without /scale: the object's NotFound, as crdHandler answers it.
  auto [missing, status] =
      Call("GET", "/apis/test.kubesim.dev/v2/namespaces/default/widgets/w/scale");
  EXPECT_EQ(missing, 404);
  EXPECT_EQ(status["message"], "widgets.test.kubesim.dev \"w\" not found");
  auto [deleted, refused] = Call("DELETE", std::string(kWidget) + "/scale");
  EXPECT_EQ(deleted, 405);
  EXPECT_EQ(refused["message"],
            "delete is not supported on resources of kind \"widgets.test.kubesim.dev\"");
  EXPECT_EQ(Widget()["spec"]["replicas"], 2);
  // No value at the spec path: GET is an internal error, a patch must set replicas.
  ASSERT_EQ(Call("PATCH", kWidget, json::parse(R"({"spec":{"replicas":null}})"),
                 "application/merge-patch+json")
                .first,
            200);
  auto [empty, why] = Call("GET", std::string(kWidget) + "/scale");
  EXPECT_EQ(empty, 500);
  EXPECT_EQ(why["message"],
            "Internal error occurred: the spec replicas field \".spec.replicas\" does not exist");
  auto [unset, bad] =
      Call("PATCH", std::string(kWidget) + "/scale",
           json::parse(R"({"metadata":{"labels":{"a":"b"}}})"), "application/merge-patch+json");
  EXPECT_EQ(unset, 400);
  EXPECT_EQ(bad["message"], "the spec replicas field \".spec.replicas\" cannot be empty");
}

TEST_F(ScaleSubresourceTest, OpenApiDocumentsHaveTheScalePaths) {
  const std::string item = "/apis/test.kubesim.dev/v1/namespaces/{namespace}/widgets/{name}";
  auto [code, v3] = Call("GET", "/openapi/v3/apis/test.kubesim.dev/v1");
  ASSERT_EQ(code, 200);
  ASSERT_TRUE(v3["paths"].contains(item + "/scale"));
  EXPECT_EQ(v3["paths"][item + "/scale"]["patch"]["operationId"], "patchWidgetScale");
  EXPECT_EQ(v3["components"]["schemas"]["io.k8s.api.autoscaling.v1.Scale"]
              ["x-kubernetes-group-version-kind"][0]["group"],
            "autoscaling");
  EXPECT_FALSE(
      Call("GET", "/openapi/v3/apis/test.kubesim.dev/v2")
          .second["paths"]
          .contains("/apis/test.kubesim.dev/v2/namespaces/{namespace}/widgets/{name}/scale"));
  auto [got, v2] = Call("GET", "/openapi/v2");
  ASSERT_EQ(got, 200);
  const json& get = v2["paths"][item + "/scale"]["get"];
  EXPECT_EQ(get["operationId"], "readWidgetScale");
  EXPECT_EQ(get["responses"]["200"]["schema"]["$ref"],
            "#/definitions/io.k8s.api.autoscaling.v1.Scale");
  EXPECT_TRUE(v2["definitions"].contains("io.k8s.api.autoscaling.v1.ScaleSpec"));
}

TEST_F(ScaleSubresourceTest, WritesChangeOnlyTheReplicasUnderPreconditions) {
  const json before = Widget();
  const std::string rv = before["metadata"]["resourceVersion"];
  json scale = Call("GET", std::string(kWidget) + "/scale").second;
  scale["spec"]["replicas"] = 5;
  scale["status"]["replicas"] = 9;  // status is read-only through /scale
  auto [code, out] = Call("PUT", std::string(kWidget) + "/scale", scale);
  ASSERT_EQ(code, 200) << out;
  EXPECT_EQ(out["spec"]["replicas"], 5);
  json after = Widget();
  EXPECT_EQ(after["spec"], json::parse(R"({"replicas":5,"color":"red"})"));
  EXPECT_FALSE(after.contains("status"));
  EXPECT_EQ(after["metadata"]["generation"], 2);
  EXPECT_NE(after["metadata"]["resourceVersion"], rv);
  EXPECT_EQ(out["metadata"]["resourceVersion"], after["metadata"]["resourceVersion"]);
  // The resource's field managers: the scaler owns the replicas through "scale".
  const json& entry = after["metadata"]["managedFields"].back();
  EXPECT_EQ(entry["manager"], "scaler");
  EXPECT_EQ(entry["subresource"], "scale");
  EXPECT_EQ(entry["apiVersion"], "test.kubesim.dev/v1");
  EXPECT_EQ(entry["fieldsV1"], json::parse(R"({"f:spec":{"f:replicas":{}}})"));
  // The old resourceVersion is a failed precondition: 409 with the standard message.
  auto [conflict, status] = Call("PUT", std::string(kWidget) + "/scale", scale);
  EXPECT_EQ(conflict, 409);
  EXPECT_EQ(status["reason"], "Conflict");
  EXPECT_EQ(status["message"],
            "Operation cannot be fulfilled on widgets.test.kubesim.dev \"w\": the object has been "
            "modified; please apply your changes to the latest version and try again");
  auto [stale, patched] =
      Call("PATCH", std::string(kWidget) + "/scale",
           {{"metadata", {{"resourceVersion", rv}}}, {"spec", {{"replicas", 6}}}},
           "application/merge-patch+json");
  EXPECT_EQ(stale, 409);
  // Without a resourceVersion the write is unconditional; JSON patches apply to the Scale.
  ASSERT_EQ(Call("PATCH", std::string(kWidget) + "/scale",
                 json::parse(R"([{"op":"replace","path":"/spec/replicas","value":7}])"),
                 "application/json-patch+json")
                .first,
            200);
  EXPECT_EQ(Widget()["spec"]["replicas"], 7);
  // The CRD schema decides: 101 is the real 422; strategic merge is refused for a CR.
  auto [invalid, refused] =
      Call("PATCH", std::string(kWidget) + "/scale", json::parse(R"({"spec":{"replicas":101}})"),
           "application/merge-patch+json");
  EXPECT_EQ(invalid, 422);
  EXPECT_EQ(refused["message"],
            "Widget.test.kubesim.dev \"w\" is invalid: spec.replicas: Invalid value: 101: "
            "spec.replicas in body should be less than or equal to 100");
  EXPECT_EQ(
      Call("PATCH", std::string(kWidget) + "/scale", json::parse(R"({"spec":{"replicas":3}})"),
           "application/strategic-merge-patch+json")
          .first,
      415);
  auto [typed, decode] =
      Call("PATCH", std::string(kWidget) + "/scale", json::parse(R"({"spec":{"replicas":"3"}})"),
           "application/merge-patch+json");
  EXPECT_EQ(typed, 422);
  EXPECT_NE(decode["message"].get<std::string>().find(
                "json: cannot unmarshal string into Go struct field ScaleSpec.spec.replicas of "
                "type int32"),
            std::string::npos);
  EXPECT_EQ(Widget()["spec"]["replicas"], 7);
}

TEST_F(ScaleSubresourceTest, ApplyToScaleConflictsWithTheReplicasOwner) {
  ASSERT_EQ(Call("PUT", std::string(kWidget) + "/scale", {{"spec", {{"replicas", 4}}}}).first, 200);
  const json applied = {
      {"apiVersion", "autoscaling/v1"}, {"kind", "Scale"}, {"spec", {{"replicas", 8}}}};
  auto [code, conflict] = Call("PATCH", std::string(kWidget) + "/scale?fieldManager=keda", applied,
                               "application/apply-patch+yaml");
  EXPECT_EQ(code, 409);
  EXPECT_EQ(conflict["message"],
            "Apply failed with 1 conflict: conflict with \"scaler\" with subresource \"scale\" "
            "using autoscaling/v1: .spec.replicas");
  // Forced, the applier takes the replicas; the main resource's appliers now conflict with it.
  auto [forced, scale] = Call("PATCH", std::string(kWidget) + "/scale?fieldManager=keda&force=true",
                              applied, "application/apply-patch+yaml");
  ASSERT_EQ(forced, 200) << scale;
  EXPECT_EQ(scale["spec"]["replicas"], 8);
  const json w = Widget();
  EXPECT_EQ(w["spec"]["replicas"], 8);
  std::vector<std::string> managers;
  for (const auto& e : w["metadata"]["managedFields"]) {
    managers.push_back(e["manager"].get<std::string>() + "/" + e["operation"].get<std::string>() +
                       "/" + e.value("subresource", ""));
  }
  // The creator keeps spec.color; the scaler's only field went to keda.
  EXPECT_EQ(managers, (std::vector<std::string>{"scaler/Update/", "keda/Apply/scale"}));
  auto [main_apply, main_conflict] =
      Call("PATCH", std::string(kWidget) + "?fieldManager=gitops",
           {{"apiVersion", "test.kubesim.dev/v1"}, {"kind", "Widget"}, {"spec", {{"replicas", 3}}}},
           "application/apply-patch+yaml");
  EXPECT_EQ(main_apply, 409);
  EXPECT_EQ(main_conflict["message"],
            "Apply failed with 1 conflict: conflict with \"keda\" with subresource \"scale\": "
            ".spec.replicas");
}

}  // namespace
}  // namespace pygrid::sim::kube
