#include "cli/standalone_flags.h"

#include <boost/program_options.hpp>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "cli/internal/flag_environment.h"
#include "cli/run_command.h"
#include "cli/state_dir.h"
#include "kube/atomic_file.h"
#include "observability/log.h"

namespace pygrid::cli {

namespace po = boost::program_options;

namespace {

const char* Synopsis(const std::string& command) {
  if (command == "up") return "pygrid-operator up -f FILE [flags]";
  if (command == "status") return "pygrid-operator status [NAME] [-o yaml|json] [flags]";
  if (command == "scale") return "pygrid-operator scale NAME --replicas N [flags]";
  if (command == "down") return "pygrid-operator down NAME [--uid UID] [flags]";
  return command == "suspend" ? "pygrid-operator suspend NAME [flags]"
                              : "pygrid-operator resume NAME [flags]";
}

}  // namespace

bool IsStandaloneCommand(const std::string& command) {
  return command == "up" || command == "status" || command == "scale" || command == "suspend" ||
         command == "resume" || command == "down";
}

StatusOr<StandaloneFlags> ParseStandaloneFlags(const std::string& command,
                                               const std::vector<std::string>& args) {
  StandaloneFlags flags;
  flags.command = command;
  flags.state_dir = DefaultStateDir();
  LocalOperatorOptions& op = flags.op;
  std::string poll = "5s", resync = "1m", genesis_timeout = "30s", timeout = "30m";
  const bool reconciles = command != "status";

  po::options_description options(std::string("usage: ") + Synopsis(command) +
                                  "\n\nflags (each also read from PYGRID_<FLAG>)");
  options.add_options()("help,h", "show this help")(
      "state-dir", po::value(&flags.state_dir)->default_value(flags.state_dir),
      "where grids are kept (default $XDG_STATE_HOME/pygrid-operator or "
      "~/.local/state/pygrid-operator)");
  if (command == "up") {
    options.add_options()("file,f", po::value(&flags.file)->required(),
                          "the PyGridCluster YAML file (- for standard input)");
  }
  if (command == "scale") {
    options.add_options()("replicas", po::value(&flags.replicas)->required(), "worker instances");
  }
  if (command == "down") {
    options.add_options()("uid", po::value(&flags.uid),
                          "the grid's uid (or its first 8 characters) when this state directory "
                          "has no record of it");
  }
  if (command == "status") {
    options.add_options()("output,o", po::value(&flags.output)->default_value(flags.output),
                          "yaml or json (with NAME)");
  }
  if (reconciles) {
    if (command != "down") {
      options.add_options()("detach", po::bool_switch(&flags.detach),
                            "run one reconcile round and return; a later command continues");
    }
    options.add_options()(
        "token-file", po::value(&flags.token_file),
        "file holding the Genesis Cloud API token (default: $GENESISCLOUD_TOKEN)")(
        "timeout", po::value(&timeout)->default_value(timeout), "give up waiting after this long")(
        "genesis-api-url", po::value(&op.genesis_api_url)->default_value(op.genesis_api_url),
        "Genesis Cloud compute API")(
        "genesis-requests-per-second",
        po::value(&op.genesis_requests_per_second)->default_value(op.genesis_requests_per_second),
        "client-side rate limit")(
        "genesis-request-timeout", po::value(&genesis_timeout)->default_value(genesis_timeout),
        "per-request timeout")("poll-interval", po::value(&poll)->default_value(poll),
                               "look again this often while the grid converges")(
        "resync-interval", po::value(&resync)->default_value(resync),
        "look again this often while the grid is stalled on something outside")(
        "ssh-port", po::value(&op.ssh_port)->default_value(op.ssh_port),
        "SSH port of the instances")(
        "ssh-user", po::value(&op.ssh_user)->default_value(op.ssh_user),
        "SSH login user of the instances")("templates-dir", po::value(&flags.templates_dir),
                                           "cloud-init templates folder (default: built in)")(
        "log-level", po::value(&flags.log_level)->default_value(flags.log_level),
        "level of the log in <state-dir>/logs/<name>.log");
  }
  po::options_description hidden;
  hidden.add_options()("name", po::value(&flags.name));
  po::positional_options_description positional;
  if (command != "up") positional.add("name", 1);
  po::options_description all;
  all.add(options).add(hidden);
  std::ostringstream usage;
  usage << options;
  flags.usage = usage.str();

  po::variables_map vars;
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), vars);
    flags.help = vars.count("help") > 0;
    if (flags.help) return flags;
    internal::StoreFlagEnvironment(options, vars);  // as `run` reads its flags
    po::notify(vars);
  } catch (const po::error& error) {
    return Status::Invalid(error.what());
  }
  if (command != "up" && command != "status" && flags.name.empty()) {
    return Status::Invalid(command + " needs the grid's NAME");
  }
  if (flags.state_dir.empty()) {
    return Status::Invalid("--state-dir is needed when neither XDG_STATE_HOME nor HOME is set");
  }
  flags.state_dir = std::filesystem::absolute(flags.state_dir).lexically_normal().string();
  while (flags.state_dir.size() > 1 && flags.state_dir.back() == '/') flags.state_dir.pop_back();
  if (flags.output != "yaml" && flags.output != "json") {
    return Status::Invalid("--output must be yaml or json");
  }
  for (auto [text, target] :
       {std::pair<std::string*, std::chrono::milliseconds*>{&poll, &op.poll_interval},
        {&resync, &op.resync_interval},
        {&genesis_timeout, &op.genesis_request_timeout},
        {&timeout, &flags.timeout}}) {
    StatusOr<std::chrono::milliseconds> duration = ParseDuration(*text);
    if (!duration.ok()) return duration.status();
    *target = *duration;
  }
  if (op.ssh_port < 1 || op.ssh_port > 65535)
    return Status::Invalid("--ssh-port must be a TCP port");
  if (!observability::ParseLogLevel(flags.log_level).ok()) {
    return Status::Invalid("--log-level must be debug, info, warn or error");
  }
  return flags;
}

StatusOr<std::string> LoadToken(const StandaloneFlags& flags) {
  std::string token;
  if (!flags.token_file.empty()) {
    namespace fs = std::filesystem;
    std::error_code error;
    const fs::path file = fs::weakly_canonical(flags.token_file, error);
    const fs::path state = fs::weakly_canonical(flags.state_dir, error);
    const std::string file_text = file.string(), state_text = state.string() + "/";
    if (file_text.compare(0, state_text.size(), state_text) == 0) {
      return Status::Invalid("--token-file must not lie inside the state directory " +
                             flags.state_dir + ": the token is never kept there");
    }
    StatusOr<std::string> read = kube::ReadSmallFile(flags.token_file, 8192);
    if (!read.ok()) return Status::Invalid("--token-file: " + read.status().message());
    token = std::move(*read);
  } else if (const char* env = std::getenv("GENESISCLOUD_TOKEN")) {
    token = env;
  }
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) {
    return Status::Invalid(
        "no Genesis Cloud API token: set GENESISCLOUD_TOKEN or pass --token-file FILE");
  }
  return token;
}

}  // namespace pygrid::cli
