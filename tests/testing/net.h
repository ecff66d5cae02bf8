// Network helpers for tests.
#pragma once

namespace pygrid::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (0 if none could be bound).
int FreeLoopbackPort();

// A socket connected to 127.0.0.1:`port` whose reads time out after `receive_timeout_seconds`,
// or -1 when the connection failed. The caller closes it.
int ConnectLoopback(int port, int receive_timeout_seconds);

}  // namespace pygrid::testing
