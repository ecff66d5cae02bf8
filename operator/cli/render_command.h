// Provides `pygrid-operator render`: prints the user data (or only the compose file) that the
// operator would give one instance of a PyGridCluster read from a YAML file, with freshly
// generated SSH keys. For reviewing and customising the cloud-init templates.
//
//   pygrid-operator render --file cluster.yaml --role worker --index 2 --gateway-ip 192.168.10.2
//
// Thread-safety: single-threaded command.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace pygrid::cli {

// Runs the command with `args` (without the program and subcommand names); writes the result
// to `out` and errors to `err`; returns the process exit code (0 ok, 1 invalid input, 2 usage).
int RunRender(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace pygrid::cli
