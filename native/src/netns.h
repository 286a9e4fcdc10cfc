// Running a little work inside a named network namespace (/var/run/netns/NAME, as iproute2
// creates them) without moving Node's main thread: a short-lived std::thread setns()s itself,
// does the work (typically: create a socket or a tap device, which keep that namespace for
// life) and exits. See setns(2), network_namespaces(7).
#pragma once
#include <functional>
#include <string>

namespace moat {

// Runs `work` on a fresh thread that has joined network namespace `name` (a name under
// /var/run/netns, or an absolute path to an nsfs file); an empty name runs it in the caller's
// namespace (still on the helper thread, for uniformity). Returns 0, or the errno of the
// open/setns that failed; `failedCall` then names the call.
int RunInNetns(const std::string& name, const std::function<void()>& work, std::string* failedCall);

}  // namespace moat
