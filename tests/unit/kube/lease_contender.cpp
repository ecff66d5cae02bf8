// lease-contender: runs leader election on one Lease and prints every transition, one line
// each, flushed at once, so a test can run several as real processes and kill them:
//
//   lease-contender --kubeconfig F --name L [--namespace default] [--identity ID]
//                   [--lease-ms 2000] [--renew-ms 1500] [--retry-ms 500]
//
// Lines: "CANDIDATE <id>", "LEADING <id>", "NEWLEADER <holder>", "STOPPED <id>",
// "EXIT <id> <status>". SIGTERM/SIGINT stop the elector, which releases the lease if held.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "kube/config.h"
#include "kube/leader_election.h"
#include "kube/rest_client.h"

namespace {

void Say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string kubeconfig, ns = "default", name, identity;
  long lease_ms = 2000, renew_ms = 1500, retry_ms = 500;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--kubeconfig")
      kubeconfig = value;
    else if (flag == "--namespace")
      ns = value;
    else if (flag == "--name")
      name = value;
    else if (flag == "--identity")
      identity = value;
    else if (flag == "--lease-ms")
      lease_ms = std::stol(value);
    else if (flag == "--renew-ms")
      renew_ms = std::stol(value);
    else if (flag == "--retry-ms")
      retry_ms = std::stol(value);
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  // Signals go to the waiter thread only, so the elector's threads never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto config = pygrid::kube::LoadKubeconfigFile(kubeconfig);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
    return 1;
  }
  config->qps = 0;
  auto client = pygrid::kube::RestClient::Create(*config);
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n", client.status().ToString().c_str());
    return 1;
  }
  pygrid::kube::LeaderElectionConfig election;
  election.lease_namespace = ns;
  election.lease_name = name;
  election.identity = identity;
  election.lease_duration = std::chrono::milliseconds(lease_ms);
  election.renew_deadline = std::chrono::milliseconds(renew_ms);
  election.retry_period = std::chrono::milliseconds(retry_ms);
  std::string me;
  election.on_started_leading = [&me] { Say("LEADING " + me); };
  election.on_stopped_leading = [&me] { Say("STOPPED " + me); };
  election.on_new_leader = [](const std::string& holder) { Say("NEWLEADER " + holder); };
  auto elector = pygrid::kube::LeaderElector::Create(**client, std::move(election));
  if (!elector.ok()) {
    std::fprintf(stderr, "%s\n", elector.status().ToString().c_str());
    return 1;
  }
  me = (*elector)->identity();
  Say("CANDIDATE " + me);
  pygrid::kube::LeaderElector* raw = elector->get();
  std::thread([signals, raw] {
    int received = 0;
    sigwait(&signals, &received);
    raw->Stop();
  }).detach();
  const pygrid::Status result = raw->Run();
  Say("EXIT " + me + " " + (result.ok() ? std::string("ok") : result.ToString()));
  std::_Exit(result.ok() ? 0 : 3);
}
