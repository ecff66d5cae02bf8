// Flags may also come from the environment: --poll-interval is PYGRID_POLL_INTERVAL (a flag on
// the command line wins). Shared by `run` and the standalone commands. Private to cli/.
#pragma once

#include <boost/program_options.hpp>
#include <string>

namespace pygrid::cli::internal {

// "poll-interval" -> "PYGRID_POLL_INTERVAL".
std::string EnvName(const std::string& flag);

// Stores every PYGRID_* variable naming one of `options` into `vars` (after the command line,
// so the command line wins). Throws what boost::program_options throws.
void StoreFlagEnvironment(const boost::program_options::options_description& options,
                          boost::program_options::variables_map& vars);

}  // namespace pygrid::cli::internal
