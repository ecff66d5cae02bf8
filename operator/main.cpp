// pygrid-operator: turns PyGridCluster resources into PyGrid grids on Genesis Cloud.
//   pygrid-operator [run] [flags]   run the controller (the default; --help lists the flags)
//   pygrid-operator render ...      print the cloud-init user data of one instance
#include <iostream>
#include <string>
#include <vector>

#include "cli/render_command.h"
#include "cli/run_command.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "render") {
    args.erase(args.begin());
    return pygrid::cli::RunRender(args, std::cout, std::cerr);
  }
  if (!args.empty() && args[0] == "run") args.erase(args.begin());
  if (!args.empty() && !args[0].empty() && args[0][0] != '-') {
    std::cerr << "pygrid-operator: unknown command '" << args[0]
              << "' (commands: run, render; see --help)\n";
    return 2;
  }
  return pygrid::cli::RunOperator(args, std::cout, std::cerr);
}
