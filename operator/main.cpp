// pygrid-operator: turns PyGridCluster resources into PyGrid grids on Genesis Cloud.
// Subcommands: `render` (print an instance's user data). The controller itself (the default
// subcommand) is wired in by the reconciler work (issue 6).
#include <iostream>
#include <string>
#include <vector>

#include "cli/render_command.h"

namespace {

constexpr char kUsage[] =
    "usage: pygrid-operator <command> [options]\n"
    "\n"
    "commands:\n"
    "  render   print the cloud-init user data of one instance of a PyGridCluster file\n"
    "           (pygrid-operator render --help)\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  if (command == "render") return pygrid::cli::RunRender(args, std::cout, std::cerr);
  std::cerr << "pygrid-operator: unknown command '" << command << "'\n" << kUsage;
  return 2;
}
