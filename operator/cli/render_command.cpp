#include "cli/render_command.h"

#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "api/defaults.h"
#include "api/json.h"
#include "api/naming.h"
#include "api/validation.h"
#include "bootstrap/ssh_keys.h"
#include "bootstrap/user_data.h"
#include "bootstrap/yaml_json.h"

namespace pygrid::cli {

namespace po = boost::program_options;

namespace {

// A random hex string for the gateway's SECRET_KEY.
std::string RandomHex(size_t bytes) {
  std::random_device device;
  std::ostringstream out;
  out << std::hex;
  for (size_t i = 0; i < bytes; ++i) out << ((device() >> 4) & 0xf) << (device() & 0xf);
  return out.str();
}

}  // namespace

int RunRender(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  po::options_description options("pygrid-operator render options");
  options.add_options()("help,h", "show this help")("file,f", po::value<std::string>()->required(),
                                                    "PyGridCluster YAML file")(
      "role", po::value<std::string>()->default_value("gateway"), "gateway or worker")(
      "index", po::value<int>()->default_value(0), "worker index")(
      "gateway-ip", po::value<std::string>()->default_value(""),
      "the gateway's private IP (workers join it there); a worker without it is deferred: it "
      "waits for the operator to deliver the address over SSH")(
      "templates-dir", po::value<std::string>()->default_value(""),
      "read the cloud-init templates from this folder instead of the built-in ones")(
      "compose-only", po::bool_switch(), "print only the docker-compose file");
  po::variables_map vars;
  try {
    po::store(po::command_line_parser(args).options(options).run(), vars);
    if (vars.count("help")) {
      out << options;
      return 0;
    }
    po::notify(vars);
  } catch (const po::error& error) {
    err << "render: " << error.what() << "\n" << options;
    return 2;
  }
  const std::string role_name = vars["role"].as<std::string>();
  if (role_name != "gateway" && role_name != "worker") {
    err << "render: --role must be gateway or worker\n";
    return 2;
  }
  const std::string path = vars["file"].as<std::string>();
  std::ifstream file(path);
  if (!file) {
    err << "render: cannot read " << path << "\n";
    return 1;
  }
  std::stringstream text;
  text << file.rdbuf();
  StatusOr<nlohmann::json> object = bootstrap::YamlToJson(text.str());
  if (!object.ok()) {
    err << "render: " << path << ": " << object.status().message() << "\n";
    return 1;
  }
  StatusOr<api::PyGridCluster> cluster = api::ClusterFromJson(*object);
  if (!cluster.ok()) {
    err << "render: " << path << ": " << cluster.status().ToString() << "\n";
    return 1;
  }
  api::ApplyDefaults(cluster->spec);
  const std::vector<FieldCause> causes = api::ValidateCluster(*cluster);
  if (!causes.empty()) {
    err << "render: " << path << " is invalid:\n";
    for (const FieldCause& cause : causes)
      err << "  " << cause.field << ": " << cause.message << "\n";
    return 1;
  }

  const bool worker = role_name == "worker";
  const std::string uid = cluster->metadata.uid.empty() ? "00000000" : cluster->metadata.uid;
  bootstrap::InstanceUserDataInput input;
  input.role = worker ? api::InstanceRole::kWorker : api::InstanceRole::kGateway;
  input.index = vars["index"].as<int>();
  input.hostname = api::InstanceNameFor(cluster->metadata.name, uid, input.role, input.index);
  input.node_id = input.hostname;
  input.gateway_private_ip = vars["gateway-ip"].as<std::string>();
  if (!worker) input.secret_key = RandomHex(32);
  StatusOr<bootstrap::SshKeyPair> operator_key =
      bootstrap::GenerateEd25519KeyPair("pygrid-operator");
  StatusOr<bootstrap::SshKeyPair> host_key = bootstrap::GenerateEd25519KeyPair(input.hostname);
  if (!operator_key.ok() || !host_key.ok()) {
    err << "render: " << (operator_key.ok() ? host_key : operator_key).status().ToString() << "\n";
    return 1;
  }
  input.operator_public_key = operator_key->public_key;
  input.host_private_key = host_key->private_key;
  input.host_public_key = host_key->public_key;

  std::optional<bootstrap::Templates> custom;
  const std::string templates_dir = vars["templates-dir"].as<std::string>();
  if (!templates_dir.empty()) {
    StatusOr<bootstrap::Templates> loaded = bootstrap::Templates::FromDirectory(templates_dir);
    if (!loaded.ok()) {
      err << "render: " << loaded.status().message() << "\n";
      return 1;
    }
    custom = std::move(*loaded);
  }
  const bootstrap::Templates& templates = custom ? *custom : bootstrap::Templates::Builtin();
  StatusOr<std::string> rendered = vars["compose-only"].as<bool>()
                                       ? bootstrap::RenderCompose(cluster->spec, input, templates)
                                       : bootstrap::RenderUserData(cluster->spec, input, templates);
  if (!rendered.ok()) {
    err << "render: " << rendered.status().ToString() << "\n";
    return 1;
  }
  out << *rendered;
  return 0;
}

}  // namespace pygrid::cli
