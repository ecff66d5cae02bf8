#include "cli/internal/flag_environment.h"

#include <cctype>

namespace pygrid::cli::internal {

std::string EnvName(const std::string& flag) {
  std::string out = "PYGRID_";
  for (char c : flag)
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

void StoreFlagEnvironment(const boost::program_options::options_description& options,
                          boost::program_options::variables_map& vars) {
  boost::program_options::store(
      boost::program_options::parse_environment(options,
                                                [&](const std::string& env) -> std::string {
                                                  for (const auto& option : options.options()) {
                                                    if (EnvName(option->long_name()) == env)
                                                      return option->long_name();
                                                  }
                                                  return "";
                                                }),
      vars);
}

}  // namespace pygrid::cli::internal
